import Foundation
import XCTest

@testable import TrustCore

/// A fresh directory per test, removed afterwards.
final class LoggingTemporaryDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("trustctl-logging-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// A test case with a fresh `directory` per test.
class LoggingDirectoryTestCase: XCTestCase {
    var directory: LoggingTemporaryDirectory!

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = try LoggingTemporaryDirectory()
    }

    override func tearDown() {
        directory = nil
        super.tearDown()
    }
}

enum LoggingTestSupport {
    /// The lines of a log file, without the trailing empty line.
    static func lines(ofFile path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Parses one line as a JSON object (Foundation only in tests).
    static func object(_ line: String, file: StaticString = #filePath, line number: UInt = #line)
        throws
        -> [String: Any]
    {
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try XCTUnwrap(
            parsed as? [String: Any], "not a JSON object: \(line)", file: file, line: number)
    }

    static func objects(ofFile path: String) throws -> [[String: Any]] {
        try lines(ofFile: path).map { try object($0) }
    }

    static let timestampPattern = try! NSRegularExpression(
        pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)

    static func isRFC3339Milliseconds(_ text: String) -> Bool {
        timestampPattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

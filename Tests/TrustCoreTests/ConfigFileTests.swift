import Foundation
import XCTest

@testable import TrustCore

/// `config.json`: flat object, known keys only, numbers or strings, clear errors naming the file.
final class ConfigFileTests: XCTestCase {
    private let path = "/etc/trust/config.json"

    private func parse(_ json: String) throws(TrustError) -> [EchoSetting: String] {
        try ConfigFile.parse(Data(json.utf8), path: path)
    }

    private func parseError(_ json: String, file: StaticString = #filePath, line: UInt = #line)
        -> TrustError?
    {
        do {
            _ = try parse(json)
            XCTFail("expected \(json) to be rejected", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.kind, .config, file: file, line: line)
            XCTAssertTrue(error.message.contains(path), error.message, file: file, line: line)
            XCTAssertFalse(error.message.contains("\n"), error.message, file: file, line: line)
            return error
        }
    }

    func testNumbersAndStringsBecomeText() throws {
        let values = try parse(
            #"{"port": 9900, "mode": "raw", "max-frame": 65536, "timeout": 0.5, "workers": "2"}"#)
        XCTAssertEqual(
            values, [.port: "9900", .mode: "raw", .maxFrame: "65536", .timeout: "0.5", .workers: "2"])
    }

    func testEmptyObjectIsEmptyLayer() throws {
        XCTAssertEqual(try parse("{}"), [:])
    }

    func testMalformedJSONNamesFileAndProblem() {
        let error = parseError(#"{"port": 9900,"#)
        XCTAssertTrue(
            error?.message.hasPrefix("malformed config file \(path): ") ?? false, error?.message ?? "")
        XCTAssertNotNil(parseError(""))
        XCTAssertNotNil(parseError("port = 9900"))
    }

    func testTopLevelMustBeObject() {
        XCTAssertTrue(parseError("[1, 2]")?.message.contains("JSON object") ?? false)
        XCTAssertNotNil(parseError("9900"))
    }

    func testUnknownKeyIsNamed() {
        let error = parseError(#"{"port": 1, "prot": 2}"#)
        XCTAssertTrue(
            error?.message.hasPrefix("unknown key 'prot' in config file \(path)") ?? false,
            error?.message ?? "")
    }

    func testNonScalarValueIsRejectedWithSettingName() {
        let error = parseError(#"{"port": true}"#)
        XCTAssertTrue(
            error?.message.contains("invalid value true for port") ?? false, error?.message ?? "")
        XCTAssertNotNil(parseError(#"{"mode": null}"#))
        XCTAssertNotNil(parseError(#"{"host": ["a"]}"#))
        XCTAssertNotNil(parseError(#"{"host": {"a": 1}}"#))
    }

    func testMissingFileIsEmptyLayer() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nope-\(UUID().uuidString).json")
        XCTAssertEqual(try ConfigFile.load(path: missing.path).values, [:])
    }

    func testUnreadableFileIsConfigError() throws {
        // A directory where the file should be: read fails with EISDIR.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertThrowsError(try ConfigFile.load(path: directory.path)) { error in
            XCTAssertEqual((error as? TrustError)?.kind, .config)
            XCTAssertTrue((error as? TrustError)?.message.contains("EISDIR") ?? false)
        }
    }
}

import Foundation
import XCTest

@testable import TrustCore

/// `config.json`: strict JSON, known keys only, each value of its setting's
/// JSON type, regular files only; clear one-line errors naming the file.
final class ConfigFileTests: XCTestCase {
    private let path = "/etc/trust/config.json"

    private func parse(_ json: String) throws(TrustError) -> [String: String] {
        try ConfigFile.parse(Array(json.utf8), path: path, settings: ServerSetting.all)
    }

    @discardableResult
    private func parseError(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try parse(json)
            XCTFail("expected \(json.debugDescription) to be rejected", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, .config, file: file, line: line)
            XCTAssertTrue(error.message.contains(path), error.message, file: file, line: line)
            XCTAssertFalse(error.message.contains("\n"), error.message, file: file, line: line)
            return error.message
        }
    }

    func testNumbersKeepTheirTextAndStringsTheirContents() throws {
        let values = try parse(#"{"port": 9900, "mode": "raw", "max-frame": 65536, "timeout": 5e-1, "host": "::1"}"#)
        XCTAssertEqual(values, ["port": "9900", "mode": "raw", "max-frame": "65536", "timeout": "5e-1", "host": "::1"])
    }

    func testEmptyObjectIsEmptyLayer() throws {
        XCTAssertEqual(try parse(" {\n}\n"), [:])
    }

    func testMalformedJSONNamesFileLineAndColumn() {
        XCTAssertEqual(
            parseError(#"{"port": 9900,"#),
            "malformed config file \(path): line 1, column 15: expected a key in double quotes, found end of file")
        XCTAssertTrue(parseError("").contains("empty file"))
        XCTAssertTrue(parseError("port = 9900").contains("line 1, column 1"))
        XCTAssertTrue(parseError("{\n  \"port\": 1,\n  \"mode\" \"raw\"\n}").contains("line 3, column 10"))
    }

    func testStrictnessBeyondJSONSerialization() {
        XCTAssertTrue(parseError(#"{"port": 1, "port": 2}"#).contains("duplicate key 'port'"))
        XCTAssertTrue(parseError(#"{"port": 1,}"#).contains("trailing comma"))
        XCTAssertTrue(parseError("\u{FEFF}{\"port\": 1}").contains("byte-order mark"))
        XCTAssertTrue(parseError(#"{"timeout": NaN}"#).contains("NaN"))
        XCTAssertTrue(parseError(#"{"timeout": -Infinity}"#).contains("Infinity"))
        XCTAssertTrue(parseError(#"{"port": 09900}"#).contains("leading zero"))
        XCTAssertTrue(parseError(#"{"port": 1} {}"#).contains("after the object"))
        XCTAssertTrue(parseError(#"[1, 2]"#).contains("JSON object"))
    }

    func testValueMustHaveItsSettingsJSONType() {
        XCTAssertEqual(
            parseError(#"{"workers": "2"}"#),
            "workers (from file \(path)): expected a JSON number (integer 1-1024), got a string")
        XCTAssertTrue(parseError(#"{"host": 5}"#).contains("host (from file \(path)): expected a JSON string"))
        XCTAssertTrue(parseError(#"{"port": true}"#).contains("got a boolean"))
        XCTAssertTrue(parseError(#"{"mode": null}"#).contains("got null"))
        XCTAssertTrue(parseError(#"{"host": ["a"]}"#).contains("got an array"))
        XCTAssertTrue(parseError(#"{"host": {"a": 1}}"#).contains("got an object"))
    }

    func testUnknownKeyIsNamed() {
        XCTAssertTrue(parseError(#"{"port": 1, "prot": 2}"#).hasPrefix("unknown key 'prot' in config file \(path)"))
    }

    private func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    private func loadError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ConfigFile.load(path: path, settings: ServerSetting.all)
            XCTFail("expected \(path) to be rejected", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, .config, file: file, line: line)
            XCTAssertTrue(error.message.contains(path), error.message, file: file, line: line)
            return error.message
        }
    }

    func testMissingFileIsEmptyLayerButDanglingLinkIsAnError() throws {
        let directory = try scratch()
        XCTAssertEqual(
            try ConfigFile.load(path: directory.appendingPathComponent("none.json").path, settings: ServerSetting.all)
                .values, [:])
        let link = directory.appendingPathComponent("config.json")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "/nonexistent/x.json")
        XCTAssertTrue(loadError(link.path).contains("symbolic link to a missing file"))
    }

    func testOnlyRegularFilesAreRead() throws {
        let directory = try scratch()
        XCTAssertTrue(loadError(directory.path).contains("it is a directory, not a regular file"))
        let fifo = directory.appendingPathComponent("fifo")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertTrue(loadError(fifo.path).contains("it is a FIFO"))
        let device = directory.appendingPathComponent("zero")
        try FileManager.default.createSymbolicLink(atPath: device.path, withDestinationPath: "/dev/zero")
        XCTAssertTrue(loadError(device.path).contains("it is a character device"))
    }
}

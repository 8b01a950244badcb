import Foundation
import XCTest

@testable import TrustCore

/// Where TRUST_HOME is and how it is created.
final class ConfigTrustHomeTests: XCTestCase {
    private func scratchDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "trusthome-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func testTrustHomeVariableWins() throws {
        let home = try TrustHome.locate(environment: ["TRUST_HOME": "/srv/trust", "HOME": "/home/u"])
        XCTAssertEqual(home.path, "/srv/trust")
        XCTAssertEqual(home.configFilePath, "/srv/trust/config.json")
        XCTAssertEqual(home.logsDirectoryPath, "/srv/trust/logs")
        XCTAssertEqual(home.logFilePath, "/srv/trust/logs/trustctl.log")
    }

    func testDefaultsToDotTrustInHome() throws {
        XCTAssertEqual(try TrustHome.locate(environment: ["HOME": "/home/u"]).path, "/home/u/.trust")
        XCTAssertEqual(
            try TrustHome.locate(environment: ["HOME": "/home/u/", "TRUST_HOME": ""]).path,
            "/home/u/.trust")
    }

    func testNeitherVariableIsCannotCreate() {
        XCTAssertThrowsError(try TrustHome.locate(environment: [:])) { error in
            XCTAssertEqual((error as? TrustError)?.exitStatus, .cannotCreate)
        }
    }

    func testCreateMakesParentsAndIsIdempotent() throws {
        let home = TrustHome(path: try scratchDirectory().appendingPathComponent("a/b/trust").path)
        try home.create()
        try home.create()
        try home.createLogsDirectory()
        var isDirectory: ObjCBool = false
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: home.logsDirectoryPath, isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
    }

    func testCreateUnderRegularFileNamesPathAndErrno() throws {
        let file = try scratchDirectory().appendingPathComponent("somefile")
        try Data("x".utf8).write(to: file)
        let home = TrustHome(path: file.appendingPathComponent("sub").path)
        XCTAssertThrowsError(try home.create()) { error in
            let error = error as? TrustError
            XCTAssertEqual(error?.kind, .cannotCreate)
            XCTAssertEqual(error?.exitStatus, .cannotCreate)
            XCTAssertEqual(error?.errno?.name, "ENOTDIR")
            XCTAssertTrue(error?.message.contains(home.path) ?? false, error?.message ?? "")
        }
    }

    func testLogsDirectoryOverRegularFileIsCannotCreate() throws {
        let home = TrustHome(path: try scratchDirectory().path)
        try Data().write(to: URL(fileURLWithPath: home.logsDirectoryPath))
        XCTAssertThrowsError(try home.createLogsDirectory()) { error in
            XCTAssertEqual((error as? TrustError)?.kind, .cannotCreate)
            XCTAssertTrue((error as? TrustError)?.message.contains("log directory") ?? false)
        }
    }
}

import Foundation
import XCTest

/// TRUST_HOME: `~/.trust` by default, overridable, created on first use;
/// an uncreatable one is exit 73 with one line (SPEC §4, §5).
final class CLITrustHomeTests: XCTestCase {
    func testDefaultTrustHomeIsCreatedUnderHome() throws {
        var env = try makeTrustctlEnvironment()
        let home = env.directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        env.variables["TRUST_HOME"] = nil
        env.variables["HOME"] = home.path
        let result = try TrustctlProcess.run(["config", "show"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertTrue(isDirectory(home.appendingPathComponent(".trust")), "~/.trust was not created")
    }

    func testDefaultTrustHomeReadsConfigFromHome() throws {
        var env = try makeTrustctlEnvironment()
        let trust = env.directory.appendingPathComponent("home/.trust")
        try FileManager.default.createDirectory(at: trust, withIntermediateDirectories: true)
        try Data(#"{"port": 4242}"#.utf8).write(to: trust.appendingPathComponent("config.json"))
        env.variables["TRUST_HOME"] = nil
        env.variables["HOME"] = env.directory.appendingPathComponent("home").path
        let rows = parseConfigShow(
            try TrustctlProcess.run(["config", "show"], environment: env.variables))
        XCTAssertEqual(rows["port"]?.value, "4242")
        XCTAssertEqual(rows["port"]?.origin, "file")
    }

    func testTrustHomeOverrideIsCreatedWithParents() throws {
        var env = try makeTrustctlEnvironment()
        let custom = env.directory.appendingPathComponent("x/y/trust")
        env.variables["TRUST_HOME"] = custom.path
        env.variables["HOME"] = env.directory.appendingPathComponent("unused-home").path
        let result = try TrustctlProcess.run(["config", "show"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertTrue(isDirectory(custom), "TRUST_HOME was not created")
        XCTAssertFalse(
            FileManager.default.fileExists(
                atPath: env.directory.appendingPathComponent("unused-home").path),
            "HOME was used although TRUST_HOME is set")
    }

    func testUncreatableTrustHomeExits73WithOneLine() throws {
        let env = try makeTrustctlEnvironment()
        let regularFile = env.directory.appendingPathComponent("somefile")
        try Data("not a directory".utf8).write(to: regularFile)
        let trustHome = regularFile.appendingPathComponent("sub").path
        let result = try TrustctlProcess.run(
            ["config", "show"], environment: env.with(["TRUST_HOME": trustHome]))
        assertOneLineFailure(result, exitCode: 73, containing: [trustHome, "ENOTDIR"])
    }

    func testUncreatableTrustHomeStopsEchoServerWith73() throws {
        let env = try makeTrustctlEnvironment()
        let regularFile = env.directory.appendingPathComponent("somefile")
        try Data().write(to: regularFile)
        let result = try TrustctlProcess.run(
            ["echo-server", "--port", "0"],
            environment: env.with(["TRUST_HOME": regularFile.appendingPathComponent("sub").path]))
        assertOneLineFailure(result, exitCode: 73)
    }

    private func isDirectory(_ url: URL) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &directory)
            && directory.boolValue
    }
}

import XCTest

/// Help, version and unknown commands (SPEC §11, CLI 1-3).
final class CLIHelpTests: XCTestCase {
    func testHelpExitsZeroAndListsSubcommands() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["--help"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("echo-server"), result.stdout)
        XCTAssertTrue(result.stdout.contains("config"), result.stdout)
        XCTAssertTrue(result.stdout.contains("USAGE: trustctl"), result.stdout)
        XCTAssertEqual(result.stderr, "")
    }

    func testSubcommandHelpListsEverySettingFlag() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["echo-server", "--help"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        for flag in [
            "--port", "--host", "--mode", "--timeout", "--max-frame", "--max-clients", "--workers",
            "--drain-timeout", "--log-level",
        ] {
            XCTAssertTrue(result.stdout.contains(flag), "echo-server --help lacks \(flag)")
        }
    }

    func testVersionPrintsVersionAndExitsZero() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["--version"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdout, "trustctl 0.1.0\n")
    }

    func testUnknownSubcommandExits64WithOneLine() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["frobnicate"], environment: env.variables)
        assertOneLineFailure(result, exitCode: 64, containing: ["frobnicate"])
        XCTAssertEqual(result.stdout, "")
    }

    func testUnknownFlagExits64WithOneLine() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--colour"], environment: env.variables)
        assertOneLineFailure(result, exitCode: 64, containing: ["--colour"])
    }
}

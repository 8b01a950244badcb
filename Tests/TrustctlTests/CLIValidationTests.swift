import XCTest

/// Bad flag values are usage errors: exit 64, one line naming the flag and
/// the accepted values (SPEC §4, §5; §11 CLI 4-6).
final class CLIValidationTests: XCTestCase {
    func testMissingPortExits64WithExactMessage() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["echo-server"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 64)
        XCTAssertEqual(result.stderr, "missing required flag: --port\n")
    }

    func testPortOutOfRangeExits64() throws {
        try assertFlagRejected("--port", "70000", expecting: "0-65535")
    }

    func testPortNotANumberExits64() throws {
        try assertFlagRejected("--port", "abc", expecting: "0-65535")
    }

    func testInvalidModeExits64() throws {
        try assertFlagRejected("--mode", "turbo", expecting: "auto, raw or framed")
    }

    func testNegativeTimeoutExits64() throws {
        try assertFlagRejected("--timeout", "-1", expecting: "seconds")
    }

    func testNonNumericTimeoutExits64() throws {
        try assertFlagRejected("--timeout", "abc", expecting: "seconds")
    }

    func testNonNumericMaxFrameExits64() throws {
        try assertFlagRejected("--max-frame", "abc", expecting: "0-4294967295")
    }

    func testNegativeMaxFrameExits64() throws {
        try assertFlagRejected("--max-frame", "-5", expecting: "0-4294967295")
    }

    func testZeroWorkersExits64() throws {
        try assertFlagRejected("--workers", "0", expecting: "integer 1-1024")
    }

    func testUnknownLogLevelExits64() throws {
        try assertFlagRejected("--log-level", "loud", expecting: "trace, debug, info")
    }

    func testConfigShowRejectsBadFlagLikeEchoServer() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["config", "show", "--port", "65536"], environment: env.variables)
        assertOneLineFailure(result, exitCode: 64, containing: ["'65536'", "--port", "0-65535"])
    }

    /// `echo-server FLAG VALUE` (with a valid port when testing another flag)
    /// exits 64 with one line naming the value, the flag and what it accepts.
    private func assertFlagRejected(
        _ flag: String, _ value: String, expecting accepted: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let env = try makeTrustctlEnvironment()
        var arguments = ["echo-server", flag, value]
        if flag != "--port" { arguments += ["--port", "0"] }
        let result = try TrustctlProcess.run(
            arguments, environment: env.variables, file: file, line: line)
        assertOneLineFailure(
            result, exitCode: 64, containing: ["\(flag): '\(value)' is ", "expected", accepted], file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
    }
}

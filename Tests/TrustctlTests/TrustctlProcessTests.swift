import XCTest

@testable import trustctl

/// The black-box harness itself, and the argv[0] dispatch of the entry point.
final class TrustctlProcessTests: XCTestCase {
    func testStartedProcessStreamsLinesAndReportsExit() throws {
        let env = try makeTrustctlEnvironment()
        let running = try startTrustctl(["config", "show", "--port", "5"], environment: env.variables)
        XCTAssertGreaterThan(running.pid, 0)
        let line = try running.waitForLine(timeout: 30) { $0.hasPrefix("log-level") }
        XCTAssertTrue(line.hasSuffix("default"), line)
        XCTAssertEqual(try running.waitForExit(timeout: 30), 0)
        XCTAssertFalse(running.isRunning)
        XCTAssertTrue(running.stdout.contains("port"))
    }

    func testWaitForLineFailsInsteadOfHangingWhenOutputEnds() throws {
        let env = try makeTrustctlEnvironment()
        let running = try startTrustctl(["frobnicate"], environment: env.variables)
        XCTAssertThrowsError(try running.waitForReadyLine(timeout: 30))
        XCTAssertEqual(try running.waitForExit(timeout: 30), 64)
        XCTAssertTrue(running.stderr.contains("frobnicate"), running.stderr)
    }

    func testRunPassesStandardInput() throws {
        // trustctl ignores stdin; this checks that a given stdin is delivered
        // and closed without blocking the child or the harness.
        let env = try makeTrustctlEnvironment()
        let input = Data(repeating: 0x61, count: 1 << 20)
        let result = try TrustctlProcess.run(["--version"], environment: env.variables, stdin: input)
        XCTAssertEqual(result.exitCode, 0)
    }

    func testEnvironmentHasNoOuterTrustVariables() throws {
        let env = try makeTrustctlEnvironment()
        // TRUST_ECHO_IO is passed on on purpose: `make test IO=...` picks the backend.
        let leaked = env.variables.keys.filter { $0.hasPrefix("TRUST_") && $0 != "TRUST_HOME" && $0 != "TRUST_ECHO_IO" }
        XCTAssertEqual(leaked, [])
        XCTAssertEqual(env.variables["TRUST_HOME"], env.trustHome.path)
    }

    func testReadyLineParsing() {
        XCTAssertEqual(
            ServerReadyLine("listening on 0.0.0.0:40123 (mode auto, 2 workers)"),
            ServerReadyLine(host: "0.0.0.0", port: 40123, mode: "auto", workers: 2))
        XCTAssertEqual(ServerReadyLine("listening on [::1]:9 (mode framed, 1 workers)")?.host, "::1")
        XCTAssertEqual(ServerReadyLine("listening on :::9900 (mode raw, 4 workers)")?.port, 9900)
        XCTAssertNil(ServerReadyLine("listening on 0.0.0.0:99999 (mode raw, 4 workers)"))
        XCTAssertNil(ServerReadyLine("server_started"))
    }

    func testProgramNameDispatch() {
        XCTAssertEqual(
            TrustctlMain.commandArguments(["/usr/bin/echo-client", "localhost", "9900"]),
            ["echo-client", "localhost", "9900"])
        XCTAssertEqual(
            TrustctlMain.commandArguments(["./echo-load-test", "--json"]), ["echo-load-test", "--json"])
        XCTAssertEqual(
            TrustctlMain.commandArguments(["/bin/trustctl", "config", "show"]), ["config", "show"])
        XCTAssertEqual(TrustctlMain.commandArguments(["trustctl"]), [])
    }
}

import CNetShim
import Foundation
import XCTest

/// SPEC §5: writing stdout to a full device is an I/O error (74), one
/// stderr line; a closed stdout (`>&-`) likewise (docs/configuration.md,
/// "Output errors").
final class CLIOutputErrorTests: XCTestCase {
    /// Runs trustctl with stdout redirected by the shell (`>/dev/full`, `>&-`)
    /// and returns the exit code and stderr; bounded like every run.
    private func run(
        _ arguments: [String], stdout redirection: String, environment: [String: String], timeout: Double = 30
    ) throws -> (exitCode: Int32, stderr: String) {
        // `exec` keeps the PID trustctl's, so the harness's kill reaches it.
        let launcher = ["/bin/sh", "-c", "exec \"$0\" \"$@\" \(redirection)"]
        let process = try startTrustctl(arguments, environment: environment, launcher: launcher)
        let status = try process.waitForExit(timeout: timeout)
        return (status, process.stderr)
    }

    private func assertWriteError(
        _ result: (exitCode: Int32, stderr: String), _ why: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(result.exitCode, 74, result.stderr, file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("cannot write output: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(why), result.stderr, file: file, line: line)
    }

    func testConfigShowHelpAndVersionToAFullDeviceExit74() throws {
        let env = try makeTrustctlEnvironment()
        for arguments in [
            ["config", "show"], ["--help"], ["--version"], ["echo-server", "--help"], ["help", "config"],
        ] {
            assertWriteError(try run(arguments, stdout: ">/dev/full", environment: env.variables), "ENOSPC")
        }
    }

    func testClosedStdoutExits74() throws {
        let env = try makeTrustctlEnvironment()
        for arguments in [["config", "show"], ["--version"], ["echo-load-test", "--help"]] {
            assertWriteError(try run(arguments, stdout: ">&-", environment: env.variables), "EBADF")
        }
    }

    /// With stdout closed, the config file must not become descriptor 1 and
    /// be "printed" into: the command still fails with 74 and the file is intact.
    func testClosedStdoutNeverWritesIntoAnOpenedFile() throws {
        let env = try makeTrustctlEnvironment()
        let json = #"{"mode": "raw"}"#
        try env.writeConfig(json)
        assertWriteError(try run(["config", "show"], stdout: ">&-", environment: env.variables), "EBADF")
        XCTAssertEqual(try String(contentsOf: env.configFile, encoding: .utf8), json)
    }

    func testEchoClientOutputToAFullDeviceExits74() throws {
        let server = try startEchoServer()
        let result = try run(
            ["echo-client", "127.0.0.1", "\(server.port)", "hello"], stdout: ">/dev/full",
            environment: server.environment.variables)
        assertWriteError(result, "ENOSPC")
    }

    func testLoadTestSummaryToAFullDeviceExits74() throws {
        let server = try startEchoServer()
        let result = try run(
            ["echo-load-test", "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "1", "--messages", "1"],
            stdout: ">/dev/full", environment: server.environment.variables)
        assertWriteError(result, "ENOSPC")
    }

    /// The server cannot announce that it is ready: it stops (through its
    /// drain) and exits 74 instead of serving unannounced forever.
    func testServerWhoseReadyLineCannotBeWrittenExits74() throws {
        let env = try makeTrustctlEnvironment()
        for redirection in [">/dev/full", ">&-"] {
            let result = try run(
                ["echo-server", "--port", "0", "--host", "127.0.0.1"], stdout: redirection,
                environment: env.variables, timeout: 15)
            assertWriteError(result, redirection == ">&-" ? "EBADF" : "ENOSPC")
        }
        let log = try String(contentsOf: env.trustHome.appendingPathComponent("logs/trustctl.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("\"server_failed\""), log)
        XCTAssertTrue(log.contains("\"server_stopped\""), log)
    }
}

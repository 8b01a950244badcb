import CNetShim
import Foundation
import XCTest

/// Black-box tests of `trustctl echo-load-test` against the real server.
final class LoadTestCLITests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
    }

    private func startServer() throws -> UInt16 {
        let server = try startTrustctl(
            ["echo-server", "--port", "0", "--host", "127.0.0.1", "--workers", "1", "--timeout", "30"],
            environment: env.variables)
        return try server.waitForReadyLine()
    }

    private func loadTest(_ arguments: [String]) throws -> TrustctlResult {
        try TrustctlProcess.run(["echo-load-test"] + arguments, environment: env.variables, timeout: 60)
    }

    func testHundredClientsOfTenMessagesAllVerified() throws {
        let port = try startServer()
        let result = try loadTest(["--host", "localhost", "--port", "\(port)", "--clients", "100", "--messages", "10"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines.first, "1000/1000 ok, 0 failed")
        XCTAssertTrue(result.stdout.contains("latency us: p50 "), result.stdout)
        XCTAssertTrue(result.stdout.contains("round trips/s: "), result.stdout)
        // stderr is a pipe, not a terminal: no progress bar.
        XCTAssertEqual(result.stderr, "")
    }

    func testConcurrentFramedAndRaw() throws {
        let port = try startServer()
        let framed = try loadTest([
            "--host", "127.0.0.1", "--port", "\(port)", "--clients", "50", "--messages", "100", "--concurrency", "50",
        ])
        XCTAssertEqual(framed.exitCode, 0, framed.stderr)
        XCTAssertEqual(framed.stdoutLines.first, "5000/5000 ok, 0 failed")
        let raw = try loadTest([
            "--host", "127.0.0.1", "--port", "\(port)", "--clients", "10", "--messages", "10", "--concurrency", "5",
            "--mode", "raw", "--payload-size", "4096",
        ])
        XCTAssertEqual(raw.exitCode, 0, raw.stderr)
        XCTAssertEqual(raw.stdoutLines.first, "100/100 ok, 0 failed")
    }

    func testJSONIsOneObjectRepeatingTheParameters() throws {
        let port = try startServer()
        let result = try loadTest([
            "--host", "127.0.0.1", "--port", "\(port)", "--clients", "4", "--messages", "5", "--concurrency", "2",
            "--payload-size", "32", "--rate", "400", "--connect-rate", "200", "--json",
        ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines.count, 1, result.stdout)
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(object["host"] as? String, "127.0.0.1")
        XCTAssertEqual(object["port"] as? Int, Int(port))
        XCTAssertEqual(object["clients"] as? Int, 4)
        XCTAssertEqual(object["messages"] as? Int, 5)
        XCTAssertEqual(object["concurrency"] as? Int, 2)
        XCTAssertEqual(object["payload_size"] as? Int, 32)
        XCTAssertEqual(object["mode"] as? String, "framed")
        XCTAssertEqual(object["rate"] as? Double, 400)
        XCTAssertEqual(object["connect_rate"] as? Double, 200)
        XCTAssertTrue(object["duration"] is NSNull)
        XCTAssertEqual(object["ok"] as? Int, 20)
        XCTAssertEqual(object["failed"] as? Int, 0)
    }

    func testRefusedExits69WithTheSummary() throws {
        var port: UInt16 = 0
        let fd = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, &port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = cnet_close(fd)
        let result = try loadTest(["--host", "127.0.0.1", "--port", "\(port)", "--clients", "2", "--messages", "10"])
        assertOneLineFailure(
            result, exitCode: 69, containing: ["echo-load-test: 20 of 20 round trips failed", "refused"])
        XCTAssertEqual(result.stdoutLines.first, "0/20 ok, 20 failed")
        XCTAssertTrue(result.stdout.contains("refused 2"), result.stdout)
    }

    func testStalledServerExits75() throws {
        var port: UInt16 = 0
        let fd = cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { _ = cnet_close(fd) }
        let result = try loadTest([
            "--host", "127.0.0.1", "--port", "\(port)", "--clients", "2", "--messages", "3", "--concurrency", "2",
            "--timeout", "0.3",
        ])
        assertOneLineFailure(result, exitCode: 75, containing: ["timeout"])
        XCTAssertTrue(result.stdout.contains("timeout 2"), result.stdout)
    }

    func testInvalidValuesExit64() throws {
        let base = ["--host", "127.0.0.1", "--port", "9"]
        for extra in [
            ["--clients", "0", "--messages", "1"],
            ["--clients", "1", "--messages", "0"],
            ["--clients", "1", "--messages", "1", "--concurrency", "0"],
            ["--clients", "1", "--messages", "1", "--mode", "chunked"],
            ["--clients", "1", "--messages", "1", "--mode", "raw", "--payload-size", "0"],
            ["--clients", "1", "--messages", "1", "--payload-size", "-1"],
            ["--clients", "1", "--messages", "1", "--rate", "0"],
            ["--clients", "1", "--messages", "1", "--duration", "-2"],
            ["--clients", "1", "--messages", "1", "--connect-rate", "abc"],
            ["--messages", "1"],
        ] {
            let result = try loadTest(base + extra)
            assertOneLineFailure(result, exitCode: 64)
        }
        let noPort = try loadTest(["--host", "127.0.0.1", "--port", "0", "--clients", "1", "--messages", "1"])
        assertOneLineFailure(noPort, exitCode: 64, containing: ["--port"])
    }
}

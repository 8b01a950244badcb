import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

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
        // Both counts say what they count: round trips, and connections by kind.
        XCTAssertEqual(
            result.stdoutLines.dropFirst().first, "round trips failed: 20; connections failed by kind: refused 2")
        XCTAssertTrue(result.stdoutLines.contains("latency: no successful round trip"), result.stdout)
        XCTAssertFalse(result.stdout.contains("p50"), result.stdout)

        let json = try loadTest([
            "--host", "127.0.0.1", "--port", "\(port)", "--clients", "2", "--messages", "10", "--json",
        ])
        XCTAssertEqual(json.exitCode, 69, json.stderr)
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        XCTAssertEqual(object["failed"] as? Int, 20)
        XCTAssertEqual(object["connections_failed"] as? Int, 2)
        XCTAssertEqual((object["connections_failed_by_kind"] as? [String: Int])?["refused"], 2)
        XCTAssertTrue(object["latency_us"] is NSNull, json.stdout)
        XCTAssertEqual(object["exit_code"] as? Int, 69)
    }

    // MARK: - Peers that close, odd numbers, signals (issue 9 items 2 and 10)

    func testServerClosingAConnectionThatWaitsForItsScheduledSendIsCountedNotACrash() throws {
        // The server closes connections idle for 0.3 s; at --rate 2 with one
        // connection, each waits 0.5 s for its next send.
        let server = try startEchoServer(["--timeout", "0.3", "--workers", "1"])
        let result = try loadTest([
            "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "2", "--messages", "3", "--rate", "2",
        ])
        XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("Backtrace"), result.stderr)
        assertOneLineFailure(result, exitCode: 74, containing: ["closed_early", "between round trips"])
        XCTAssertTrue(result.stdout.contains("connections failed by kind: closed_early"), result.stdout)
        let first = try XCTUnwrap(result.stdoutLines.first)
        XCTAssertTrue(first.hasSuffix("/6 ok, \(6 - (Int(first.prefix { $0 != "/" }) ?? -1)) failed"), first)
    }

    func testTinyAndHugeValuesNeverTrap() throws {
        let server = try startEchoServer(["--workers", "1"])
        let target = ["--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "1"]
        for (extra, expected) in [
            (["--rate", "1e-300"], "1/1 ok"), (["--connect-rate", "0.0000000001"], "1/1 ok"),
            (["--rate", "1e300"], "1/1 ok"), (["--connect-rate", "1e300"], "1/1 ok"),
            (["--timeout", "1e-300"], "0/1 ok"), (["--duration", "1e-300"], "0/0 ok"),
        ] {
            let result = try loadTest(target + ["--messages", "1"] + extra)
            XCTAssertFalse(result.stderr.contains("Fatal error"), "\(extra): \(result.stderr)")
            // It runs (a timeout of 1e-300 s fails with 75), or validation
            // rejects the value by range (64): never a signal death.
            XCTAssertTrue([0, 64, 75].contains(result.exitCode), "\(extra): \(result.exitCode) \(result.stderr)")
            if result.exitCode != 64 { XCTAssertTrue(result.stdout.hasPrefix(expected), "\(extra): \(result.stdout)") }
        }
        // A schedule whose next send is never due: only a signal ends it, with the summary.
        for extra in [
            ["--messages", "1", "--duration", "86400", "--rate", "1e-300"], ["--messages", "2", "--rate", "1e-300"],
        ] {
            let acceptedBefore = server.log.entries(event: "connection_accepted").count
            let running = try startTrustctl(["echo-load-test"] + target + extra, environment: env.variables)
            let accepted = server.log.waitForEntry(timeout: 10) { _ in
                server.log.entries(event: "connection_accepted").count > acceptedBefore
            }
            if accepted == nil, !running.isRunning {
                XCTAssertEqual(try running.waitForExit(), 64, "\(extra): \(running.stderr)")
                continue
            }
            // The connection is up, so the run is under way: wait for its first echo to be counted.
            usleep(100_000)
            running.sendSignal(SIGINT)
            XCTAssertEqual(try running.waitForExit(timeout: 10), 130, "\(extra): \(running.stderr)")
            XCTAssertTrue(running.stdout.hasPrefix("1/1 ok, 0 failed\ninterrupted by SIGINT"), running.stdout)
        }
    }

    func testSIGINTPrintsThePartialSummaryAndExits130WithoutAnyProgressDisplay() throws {
        let server = try startEchoServer(["--workers", "1"])
        let running = try startTrustctl(
            [
                "echo-load-test", "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "4",
                "--concurrency", "2", "--messages", "1000000000", "--rate", "2000",
            ], environment: env.variables)
        XCTAssertNotNil(server.log.waitForEntry(event: "connection_accepted"), running.stderr)
        running.sendSignal(SIGINT)
        XCTAssertEqual(try running.waitForExit(timeout: 10), 130, running.stderr)
        let lines = running.stdout.split(separator: "\n").map(String.init)
        XCTAssertNotNil(
            lines.first?.range(of: #"^[0-9]+/[0-9]+ ok, 0 failed$"#, options: .regularExpression), running.stdout)
        let interruption = lines.dropFirst().first ?? ""
        XCTAssertTrue(interruption.hasPrefix("interrupted by SIGINT after "), running.stdout)
        XCTAssertTrue(interruption.contains("planned not run"), running.stdout)
        XCTAssertTrue(running.stdout.contains("connections opened: 2"), running.stdout)
        // stderr is no terminal: one line, and nothing of the progress display.
        XCTAssertEqual(
            running.stderr, "echo-load-test: interrupted by SIGINT; the summary covers what was measured\n")
        XCTAssertFalse(running.stderr.contains("\r") || running.stderr.contains("\u{1B}"))
    }

    func testSIGTERMStopsTheRunTooWithJSON() throws {
        let server = try startEchoServer(["--workers", "1"])
        let running = try startTrustctl(
            [
                "echo-load-test", "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "1",
                "--messages", "1", "--duration", "60", "--json",
            ], environment: env.variables)
        XCTAssertNotNil(server.log.waitForEntry(event: "connection_accepted"), running.stderr)
        running.sendSignal(SIGTERM)
        XCTAssertEqual(try running.waitForExit(timeout: 10), 143, running.stderr)
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(running.stdout.utf8)) as? [String: Any], running.stdout)
        XCTAssertEqual(object["interrupted_by"] as? String, "SIGTERM")
        XCTAssertEqual(object["exit_code"] as? Int, 143)
        XCTAssertEqual(object["failed"] as? Int, 0)
        XCTAssertTrue(object["not_run"] is NSNull, "duration mode has no plan")
    }

    func testSIGINTAtAnyMomentEndsTheRunPromptly() throws {
        let server = try startEchoServer(["--workers", "1"])
        var generator = SystemRandomNumberGenerator()
        for round in 0..<8 {
            let running = try startTrustctl(
                [
                    "echo-load-test", "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "2",
                    "--concurrency", "2", "--messages", "1000000000",
                ], environment: env.variables)
            usleep(UInt32(round * 15_000 + Int.random(in: 0..<5_000, using: &generator)))
            running.sendSignal(SIGINT)
            // Before the run starts the default action ends it (130 too); after, the summary does.
            XCTAssertEqual(try running.waitForExit(timeout: 10), 130, "round \(round): \(running.stderr)")
            XCTAssertFalse(running.stderr.contains("Fatal error"), running.stderr)
            if !running.stdout.isEmpty {
                XCTAssertTrue(running.stdout.contains("interrupted by SIGINT"), running.stdout)
            }
        }
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

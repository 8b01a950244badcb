import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-load-test --transport udp` against our server and against socat.
final class UDPLoadTestCLITests: XCTestCase {
    private func loadTest(_ port: UInt16, _ extra: [String], host: String = "127.0.0.1") throws -> (
        TrustctlResult, [String: Any]
    ) {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["echo-load-test", "--transport", "udp", "--host", host, "--port", String(port), "--json"] + extra,
            environment: env.variables, timeout: 60)
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? "{}"
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return (result, object)
    }

    func testClosedLoopAgainstOurServerCountsEveryDatagram() throws {
        let server = try startEchoServer(["--transport", "udp", "--udp-rate", "0"])
        let (result, json) = try loadTest(server.port, ["--clients", "5", "--messages", "40", "--payload-size", "100"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(json["sent"] as? Int, 200)
        XCTAssertEqual(json["received"] as? Int, 200)
        XCTAssertEqual(json["lost"] as? Int, 0)
        XCTAssertEqual(json["duplicates"] as? Int, 0)
        XCTAssertEqual(json["mismatched"] as? Int, 0)
        XCTAssertEqual(json["latency_from"] as? String, "send")
        XCTAssertNotNil((json["latency_us"] as? [String: Any])?["p99"])
        XCTAssertEqual(try server.stop(), 0)
        let stopped = try XCTUnwrap(server.log.waitForEntry(event: "server_stopped"))
        XCTAssertEqual(stopped.integer("datagrams_out"), 200)
    }

    func testOpenLoopRateSendsRateTimesDuration() throws {
        let server = try startEchoServer(["--transport", "udp", "--udp-rate", "0"])
        let (result, json) = try loadTest(
            server.port, ["--clients", "4", "--messages", "1", "--rate", "2000", "--duration", "0.5"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(json["sent"] as? Int, 1000)
        XCTAssertEqual(json["received"] as? Int, 1000)
        XCTAssertEqual(json["latency_from"] as? String, "scheduled_send")
        XCTAssertEqual(try server.stop(), 0)
    }

    /// The server's per-source limit shows up as loss: 74 by default, 0
    /// when --max-loss allows it.
    func testLossUnderTheServersRateLimitFailsUnlessAllowed() throws {
        let server = try startEchoServer(["--transport", "udp", "--udp-rate", "100"])
        let plan = ["--clients", "1", "--messages", "1", "--rate", "2000", "--duration", "0.5", "--timeout", "0.5"]
        let (strict, json) = try loadTest(server.port, plan)
        XCTAssertEqual(strict.exitCode, 74, strict.stderr)
        XCTAssertTrue(strict.stderr.contains("lost"), strict.stderr)
        let lost = try XCTUnwrap(json["lost"] as? Int)
        XCTAssertGreaterThan(lost, 500)
        let (lenient, _) = try loadTest(server.port, plan + ["--max-loss", "100"])
        XCTAssertEqual(lenient.exitCode, 0, lenient.stderr)
        XCTAssertEqual(try server.stop(), 0)
    }

    /// socat as the third-party peer: `socat UDP-RECVFROM:P,fork PIPE`.
    func testAgainstSocatUDPEcho() throws {
        let port = try freeUDPPort()
        let socat = Process()
        socat.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        socat.arguments = ["socat", "-T1", "UDP4-RECVFROM:\(port),reuseaddr,fork", "PIPE"]
        try socat.run()
        defer {
            socat.terminate()
            socat.waitUntilExit()
        }
        // Ready when it answers (bounded).
        var ready = false
        for _ in 0..<50 where !ready {
            let (probe, _) = try loadTest(port, ["--clients", "1", "--messages", "1", "--timeout", "0.2"])
            ready = probe.exitCode == 0
        }
        XCTAssertTrue(ready, "socat never answered on \(port)")
        let (result, json) = try loadTest(port, ["--clients", "3", "--messages", "10", "--payload-size", "512"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(json["received"] as? Int, 30)
        XCTAssertEqual(json["mismatched"] as? Int, 0)
    }

    func testNothingListeningIsUnavailable() throws {
        let port = try freeUDPPort()
        let (result, _) = try loadTest(port, ["--clients", "1", "--messages", "2", "--timeout", "0.3"])
        XCTAssertEqual(result.exitCode, 69, result.stderr)
        XCTAssertTrue(result.stderr.contains("port unreachable"), result.stderr)
    }

    func testBadUDPOptionsAreUsageErrors() throws {
        let env = try makeTrustctlEnvironment()
        let base = ["echo-load-test", "--transport", "udp", "--host", "127.0.0.1", "--port", "9", "--messages", "1"]
        assertOneLineFailure(
            try TrustctlProcess.run(base + ["--clients", "1", "--payload-size", "8"], environment: env.variables),
            exitCode: 64, containing: ["--payload-size"])
        assertOneLineFailure(
            try TrustctlProcess.run(base + ["--clients", "1", "--max-loss", "101"], environment: env.variables),
            exitCode: 64, containing: ["--max-loss"])
        assertOneLineFailure(
            try TrustctlProcess.run(
                [
                    "echo-load-test", "--transport", "sctp", "--host", "h", "--port", "9", "--clients", "1",
                    "--messages", "1",
                ], environment: env.variables),
            exitCode: 64, containing: ["--transport"])
    }

    /// A UDP port nobody is bound to right now.
    private func freeUDPPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // Safe: sockaddr_in viewed as sockaddr for the calls, with its real size.
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        XCTAssertTrue(bound)
        return UInt16(bigEndian: address.sin_port)
    }
}

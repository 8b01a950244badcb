import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-load-test --proxy-protocol v1|v2` (SPEC §8) against our server and through a real
/// HAProxy that parses the header (`accept-proxy`), and `--reconnect` against servers that
/// end connections between round trips or before answering.
final class LoadTestProxyAndReconnectTests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
    }

    private func loadTest(_ arguments: [String]) throws -> TrustctlResult {
        try TrustctlProcess.run(["echo-load-test"] + arguments, environment: env.variables, timeout: 60)
    }

    private func json(_ result: TrustctlResult) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try XCTUnwrap(object as? [String: Any], result.stdout)
    }

    func testEachVersionIsAcceptedByAServerExpectingItAndRefusedByOneExpectingTheOther() throws {
        for (version, other) in [("v1", "v2"), ("v2", "v1")] {
            let server = try startEchoServer(["--proxy-protocol", version, "--workers", "1"])
            let result = try loadTest([
                "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "6", "--messages", "5",
                "--concurrency", "3", "--proxy-protocol", version, "--json",
            ])
            XCTAssertEqual(result.exitCode, 0, result.stderr)
            let object = try json(result)
            XCTAssertEqual(object["ok"] as? Int, 30)
            XCTAssertEqual(object["proxy_protocol"] as? String, version)
            // The header named the load tester's own address, which the server logged as peer.
            let accepted = server.log.entries(event: "connection_accepted")
            XCTAssertEqual(accepted.count, 6, "\(accepted)")
            for entry in accepted {
                XCTAssertTrue(entry.peer?.hasPrefix("127.0.0.1:") ?? false, entry.description)
                XCTAssertNotNil(entry.string("proxied_by"), entry.description)
            }

            let wrong = try loadTest([
                "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "1", "--messages", "1",
                "--proxy-protocol", other,
            ])
            XCTAssertEqual(wrong.exitCode, 74, "a \(other) header to a \(version) server: \(wrong.stdout)")
            XCTAssertNotNil(
                server.log.waitForEntry { $0.event == "connection_closed" && $0.reason == "proxy_header_invalid" })
            XCTAssertEqual(try server.stop(), 0)
        }
    }

    /// HAProxy's own parser (`bind ... accept-proxy`) reads our header, and HAProxy passes
    /// the addresses in it on to the server (`send-proxy-v2`): the server logs the load
    /// tester as peer and HAProxy (from 127.0.0.3) as proxied_by. A header HAProxy could not
    /// parse would end the connection; one it did not consume would come back as echo bytes.
    func testHAProxyAcceptsTheHeaderAndRelaysItsAddresses() throws {
        guard HAProxyProcess.isInstalled else {
            return XCTFail("\(HAProxyProcess.path) is missing: install Debian's haproxy package (.ci/run does)")
        }
        let server = try startEchoServer(["--proxy-protocol", "v2", "--workers", "1"])
        let probe = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, nil)
        let frontendPort = UInt16(cnet_local_port(probe))
        _ = cnet_close(probe)
        let config = env.directory.appendingPathComponent("accept-proxy.cfg")
        try """
        defaults
            mode tcp
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend in
            bind 127.0.0.1:\(frontendPort) accept-proxy
            default_backend echo
        backend echo
            source 127.0.0.3
            server echo1 127.0.0.1:\(server.port) send-proxy-v2

        """.write(to: config, atomically: true, encoding: .utf8)
        let haproxy = try HAProxyProcess(config: config.path)
        defer { haproxy.stop() }
        waitUntil(timeout: 10) {
            let fd = cnet_tcp_connect_host("127.0.0.1", frontendPort, 1000, 0)
            if fd >= 0 { _ = cnet_close(fd) }
            return fd >= 0
        }

        for version in ["v1", "v2"] {
            let result = try loadTest([
                "--host", "127.0.0.1", "--port", "\(frontendPort)", "--clients", "10", "--messages", "20",
                "--concurrency", "5", "--proxy-protocol", version, "--mode", "raw",
            ])
            XCTAssertEqual(result.exitCode, 0, "\(version): \(result.stdout) \(result.stderr)")
            XCTAssertEqual(result.stdoutLines.first, "200/200 ok, 0 failed", version)
        }
        // The probe connections above carried no header and were refused by HAProxy; every
        // one that reached the server came from the load tester, through HAProxy.
        let closed = try XCTUnwrap(
            waitForEntries(server.log, event: "connection_closed", count: 20), "20 relayed connections closed")
        for entry in closed {
            XCTAssertTrue(entry.peer?.hasPrefix("127.0.0.1:") ?? false, entry.description)
            XCTAssertTrue(entry.string("proxied_by")?.hasPrefix("127.0.0.3:") ?? false, entry.description)
            XCTAssertEqual(entry.reason, "peer_closed", entry.description)
        }
        XCTAssertEqual(Set(closed.compactMap(\.peer)).count, 20, "each connection its own peer address")
    }

    /// A server that ends every connection after 3 echoes (between round trips): without
    /// --reconnect that is `closed_early`; with it, every round trip is verified on new
    /// connections, and the reopened connections are counted.
    func testReconnectCarriesSessionsAcrossServerCloses() throws {
        let server = try PythonEchoServer(script: PythonEchoServer.closingAfterThreeEchoes)
        defer { server.stop() }
        let arguments = [
            "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "4", "--messages", "10",
            "--concurrency", "2", "--mode", "raw", "--payload-size", "16",
        ]
        let plain = try loadTest(arguments)
        XCTAssertEqual(plain.exitCode, 74, plain.stdout)
        XCTAssertTrue(plain.stderr.contains("closed_early"), plain.stderr)

        let result = try loadTest(arguments + ["--reconnect", "--json"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let object = try json(result)
        XCTAssertEqual(object["ok"] as? Int, 40)
        XCTAssertEqual(object["failed"] as? Int, 0)
        XCTAssertEqual(object["reconnect"] as? Bool, true)
        // 10 round trips at 3 per connection: 4 connections per session, 3 of them reopened.
        XCTAssertEqual(object["reconnects"] as? Int, 12)
        XCTAssertEqual(object["connections_opened"] as? Int, 16)
        let summary = try loadTest(arguments + ["--reconnect"])
        XCTAssertTrue(
            summary.stdout.contains("connections opened: 16; reopened after the server ended them: 12"), summary.stdout)
    }

    /// A server that never answers and closes: --reconnect gives up after a few tries in a
    /// row, so the run still ends, failed, with the right code.
    func testReconnectGivesUpOnAServerThatNeverAnswers() throws {
        let server = try PythonEchoServer(script: PythonEchoServer.closingAtOnce)
        defer { server.stop() }
        let result = try loadTest([
            "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "2", "--messages", "5",
            "--reconnect", "--json",
        ])
        XCTAssertTrue([74].contains(result.exitCode), "\(result.exitCode) \(result.stderr)")
        let object = try json(result)
        XCTAssertEqual(object["ok"] as? Int, 0)
        XCTAssertEqual(object["failed"] as? Int, 10)
        XCTAssertEqual(object["reconnects"] as? Int, 6, "3 tries per session, 2 sessions")
    }

    func testBadProxyProtocolValueIsAUsageError() throws {
        let result = try loadTest([
            "--host", "127.0.0.1", "--port", "1", "--clients", "1", "--messages", "1", "--proxy-protocol", "v3",
        ])
        XCTAssertEqual(result.exitCode, 64)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("--proxy-protocol"), result.stderr)
    }

    private func waitForEntries(_ log: ServerLog, event: String, count: Int) -> [LogEntry]? {
        var found: [LogEntry] = []
        waitUntil(timeout: 10) {
            found = log.entries(event: event)
            return found.count >= count
        }
        return found.count >= count ? found : nil
    }
}

/// A small third-party-style TCP server in Python for behaviours our server never has.
private final class PythonEchoServer {
    /// Echoes 16-byte messages; ends each connection after its third echo.
    static let closingAfterThreeEchoes = """
        import socket, sys, threading
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1], flush=True)
        def serve(c):
            with c:
                for _ in range(3):
                    data = b""
                    while len(data) < 16:
                        chunk = c.recv(16 - len(data))
                        if not chunk: return
                        data += chunk
                    c.sendall(data)
        while True:
            c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
        """
    /// Accepts and closes at once.
    static let closingAtOnce = """
        import socket
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1], flush=True)
        while True:
            c, _ = s.accept(); c.close()
        """

    let process = Process()
    let port: UInt16

    init(script: String) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        try process.run()
        // The first line is the port; reading it waits (bounded by the process) for the bind.
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data([10]) {
            line.append(byte)
        }
        guard let port = UInt16(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw TrustctlProcessError("the Python server printed no port")
        }
        self.port = port
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

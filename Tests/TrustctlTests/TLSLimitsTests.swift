import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The core's limits hold over TLS as over plain TCP: --max-clients, the
/// drain on SIGTERM (ended with close_notify), and a client that stops
/// reading (backpressure, then send_timeout). Python's ssl is the client.
final class TLSLimitsTests: TLSCertificateTestCase {
    private func startTLSServer(_ extra: [String]) throws -> (EchoServerUnderTest, TLSCertificates) {
        let c = try certs()
        return (try startEchoServer(["--tls-cert", c.serverCert, "--tls-key", c.serverKey] + extra), c)
    }

    private func python(_ script: String, _ arguments: [String]) throws -> ExternalTool {
        try ExternalTool("/usr/bin/env", ["python3", "-c", script] + arguments)
    }

    func testMaxClientsRefusesTheNextTLSClient() throws {
        let (server, c) = try startTLSServer(["--mode", "raw", "--max-clients", "2"])
        let script = """
            import socket, ssl, sys
            context = ssl.create_default_context(cafile=sys.argv[2])
            def open_one():
                s = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                                        server_hostname="localhost")
                s.sendall(b"hi")
                assert s.recv(2) == b"hi"
                return s
            held = [open_one(), open_one()]
            try:
                open_one()
                print("third served")
            except (OSError, AssertionError) as error:
                print("third refused")
            """
        let result = try python(script, [String(server.port), c.caCert]).finish(timeout: 30)
        XCTAssertEqual(result.stdoutText, "third refused\n", result.stderr)
        let refused = try XCTUnwrap(server.log.waitForEntry(event: "connection_refused"))
        XCTAssertEqual(refused.reason, "max_clients")
    }

    func testDrainClosesTLSConnectionsWithCloseNotify() throws {
        let (server, c) = try startTLSServer(["--mode", "raw"])
        let script = """
            import socket, ssl, sys
            context = ssl.create_default_context(cafile=sys.argv[2])
            s = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20),
                                    server_hostname="localhost")
            s.sendall(b"before the drain")
            got = b""
            while len(got) < 16:
                got += s.recv(16 - len(got))
            print("echoed", flush=True)
            try:
                print("clean" if s.recv(100) == b"" else "data")
            except ssl.SSLError as error:
                print("unclean", error)
            """
        let client = try python(script, [String(server.port), c.caCert])
        XCTAssertTrue(waitUntil(timeout: 20) { client.output.contains("echoed") }, "the client got its echo")
        XCTAssertEqual(try server.stop(), 0)
        let result = client.finish(timeout: 20)
        XCTAssertEqual(result.stdoutText, "echoed\nclean\n", result.stderr)
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "shutdown")
    }

    func testAClientThatStopsReadingIsClosedBySendTimeout() throws {
        let (server, c) = try startTLSServer(["--mode", "raw", "--timeout", "1"])
        let script = """
            import socket, ssl, sys
            context = ssl.create_default_context(cafile=sys.argv[2])
            raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s = context.wrap_socket(raw, server_hostname="localhost")
            s.settimeout(3)
            sent = 0
            try:
                while sent < 64 << 20:
                    s.sendall(b"z" * 65536)
                    sent += 65536
                print("never blocked")
            except (socket.timeout, OSError):
                print("blocked")
            """
        let result = try python(script, [String(server.port), c.caCert]).finish(timeout: 60)
        XCTAssertEqual(result.stdoutText, "blocked\n", result.stderr)
        let closed = try XCTUnwrap(server.log.waitForEntry(timeout: 20) { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "send_timeout", closed.description)
        XCTAssertLessThan(closed.integer("bytes_in") ?? .max, 64 << 20, "reading paused behind the unread echo")
        XCTAssertEqual(try server.stop(), 0)
    }
}

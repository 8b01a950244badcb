import Foundation
import TrustCore
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `--proxy-protocol`: the core reads a PROXY header (HAProxy's proxy-protocol.txt) before
/// the handler sees a byte, on whichever backend TRUST_ECHO_IO picks. Headers are made by
/// `ProxyHeaderEncoder` and sent over real sockets to the real binary.
final class ProxyProtocolTests: XCTestCase {
    private let client4 = IPEndpoint(address: IPAddress("203.0.113.7")!, port: 5555)
    private let frontend4 = IPEndpoint(address: IPAddress("192.0.2.1")!, port: 9900)

    private func closeLine(_ server: EchoServerUnderTest, _ socket: TestSocket) throws -> LogEntry {
        let balancer = "127.0.0.1:\(socket.localPort)"
        return try XCTUnwrap(
            server.log.waitForEntry {
                $0.event == "connection_closed" && ($0.string("proxied_by") == balancer || $0.peer == balancer)
            }, "no connection_closed for \(balancer)")
    }

    func testV1HeaderSplitAcrossWritesIsConsumedNotEchoed() throws {
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "v1"])
        let socket = try server.connect()
        defer { socket.close() }
        let header = ProxyHeaderEncoder.v1(source: client4, destination: frontend4)
        let payload = Array("after the header\n".utf8)
        // Split inside the header, and the last piece carries the payload's first bytes.
        try socket.send(Array(header[0..<6]))
        usleep(20_000)
        try socket.send(Array(header[6..<(header.count - 1)]))
        usleep(20_000)
        try socket.send([header[header.count - 1]] + payload)
        XCTAssertEqual(try socket.receive(exactly: payload.count), payload)
        socket.shutdownWrite()
        XCTAssertEqual(try socket.receiveToEnd(), [], "nothing but the payload comes back")

        let closed = try closeLine(server, socket)
        XCTAssertEqual(closed.peer, "203.0.113.7:5555")
        XCTAssertEqual(closed.string("proxied_by"), "127.0.0.1:\(socket.localPort)")
        XCTAssertEqual(closed.reason, "peer_closed")
        XCTAssertEqual(closed.integer("bytes_in"), payload.count, "the header is not payload")
        let accepted = try XCTUnwrap(server.log.entries(event: "connection_accepted").first)
        XCTAssertEqual(accepted.peer, "203.0.113.7:5555")
        XCTAssertEqual(accepted.string("proxied_by"), "127.0.0.1:\(socket.localPort)")
    }

    func testV2HeaderWithAFrameInTheSameWrite() throws {
        let server = try startEchoServer(["--mode", "framed", "--proxy-protocol", "any"])
        let socket = try server.connect()
        defer { socket.close() }
        let source = IPEndpoint(address: IPAddress("2001:db8::42")!, port: 40_000)
        let destination = IPEndpoint(address: IPAddress("2001:db8::1")!, port: 9900)
        let frame = TestFrame.encode(Array("framed after v2".utf8))
        try socket.send(ProxyHeaderEncoder.v2(source: source, destination: destination) + frame)
        XCTAssertEqual(try socket.receive(exactly: frame.count), frame)
        socket.shutdownWrite()
        XCTAssertEqual(try socket.receiveToEnd(), [])
        let closed = try closeLine(server, socket)
        XCTAssertEqual(closed.peer, "[2001:db8::42]:40000")
        XCTAssertEqual(closed.integer("frames"), 1)
    }

    func testV2HeaderSplitByteByByte() throws {
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "v2"])
        let socket = try server.connect()
        defer { socket.close() }
        for byte in ProxyHeaderEncoder.v2(source: client4, destination: frontend4) {
            try socket.send([byte])
            usleep(2_000)
        }
        try socket.echoRaw(Array("one byte at a time\n".utf8))
        socket.close()
        XCTAssertEqual(try closeLine(server, socket).peer, "203.0.113.7:5555")
    }

    func testLocalAndUnknownKeepTheBalancerAsPeer() throws {
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "any"])
        for header in [ProxyHeaderEncoder.v2Local(), ProxyHeaderEncoder.v1Unknown()] {
            let socket = try server.connect()
            try socket.send(header)
            try socket.echoRaw(Array("health\n".utf8))
            socket.close()
            let closed = try closeLine(server, socket)
            XCTAssertEqual(closed.peer, "127.0.0.1:\(socket.localPort)")
            XCTAssertNil(closed.string("proxied_by"))
        }
    }

    private func assertRefused(
        _ server: EchoServerUnderTest, sending bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line
    ) throws -> LogEntry {
        let socket = try server.connect()
        defer { socket.close() }
        if !bytes.isEmpty { _ = socket.sendReporting(bytes) }
        // Closed without an echo: an end of stream, or a reset when the server closed before
        // reading what was sent (an untrusted peer is closed at the accept).
        let (echoed, result) = socket.receiveReporting(upTo: 65536)
        XCTAssertEqual(echoed, [], "nothing echoed", file: file, line: line)
        XCTAssertTrue(result == 0 || Int32(result) == -ECONNRESET, "result \(result)", file: file, line: line)
        let closed = try closeLine(server, socket)
        XCTAssertEqual(closed.reason, "proxy_header_invalid", "\(closed)", file: file, line: line)
        XCTAssertEqual(closed.peer, "127.0.0.1:\(socket.localPort)", file: file, line: line)
        XCTAssertNotNil(closed.string("proxy_error"), "\(closed)", file: file, line: line)
        return closed
    }

    func testGarbageAndTheWrongVersionAreClosed() throws {
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "v1", "--metrics-port", "0"])
        _ = try assertRefused(server, sending: Array("hello, no header\r\n".utf8))
        _ = try assertRefused(server, sending: ProxyHeaderEncoder.v2(source: client4, destination: frontend4))
        _ = try assertRefused(server, sending: Array("PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n".utf8))
        // A client that half-closes inside the header.
        let socket = try server.connect()
        defer { socket.close() }
        try socket.send(Array("PROXY TCP4 ".utf8))
        socket.shutdownWrite()
        XCTAssertEqual(try socket.receiveToEnd(), [])
        XCTAssertEqual(try closeLine(server, socket).reason, "proxy_header_invalid")
        // The echo port still serves a well-behaved balancer afterwards.
        let good = try server.connect()
        defer { good.close() }
        try good.send(ProxyHeaderEncoder.v1(source: client4, destination: frontend4))
        try good.echoRaw(Array("fine\n".utf8))
        // The four refusals are counted under their close reason.
        let metricsPort = try XCTUnwrap(server.log.waitForEntry(event: "server_started")?.integer("metrics_port"))
        let scrape = try TestSocket(host: "127.0.0.1", port: UInt16(metricsPort))
        defer { scrape.close() }
        try scrape.send(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let metrics = String(decoding: try scrape.receiveToEnd(), as: UTF8.self)
        XCTAssertTrue(
            metrics.contains("\ntrustctl_connections_closed_total{reason=\"proxy_header_invalid\"} 4\n"), metrics)
        XCTAssertTrue(metrics.contains("\ntrustctl_received_bytes_total 5\n"), "only the payload: \(metrics)")
    }

    func testUntrustedPeerIsClosedEvenWithAValidHeader() throws {
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "any", "--proxy-trusted", "10.0.0.0/8"])
        let closed = try assertRefused(server, sending: ProxyHeaderEncoder.v1(source: client4, destination: frontend4))
        XCTAssertTrue(closed.string("proxy_error")?.contains("--proxy-trusted") ?? false, "\(closed)")
    }

    func testHeaderTimeoutClosesASilentPeer() throws {
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "v1"])
        let started = Date()
        let closed = try assertRefused(server, sending: Array("PROXY TCP4 203.0.113.7".utf8))
        XCTAssertTrue(closed.string("proxy_error")?.contains("3 s") ?? false, "\(closed)")
        // The 3 s bound, not an early close (not a timing assertion on speed).
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 2.5)
    }

    func testBadTrustedListIsAUsageError() throws {
        let environment = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--proxy-trusted", "10.0.0.1/8"], environment: environment.variables)
        assertOneLineFailure(result, exitCode: 64, containing: ["--proxy-trusted"])
    }
}

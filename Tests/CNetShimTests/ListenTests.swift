import CNetShim
import Glibc
import XCTest

final class ListenTests: XCTestCase {
    /// Port 0 means "pick one": the reported port is real, agrees with
    /// cnet_local_port and carries bytes both ways.
    func testListenOnPortZeroReturnsUsablePort() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(listener) }
        XCTAssertNotEqual(port, 0)
        XCTAssertEqual(cnet_local_port(listener), Int32(port))

        try assertExchange(listener: listener, connectHost: "127.0.0.1", port: port)
    }

    func testIPv6LoopbackListenAndConnectWork() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(cnet_tcp_listen_host("::1", 0, 16, 0, &port), "listen ::1")
        defer { _ = cnet_close(listener) }
        XCTAssertNotEqual(port, 0)
        XCTAssertEqual(cnet_local_port(listener), Int32(port))

        let peer = try assertExchange(listener: listener, connectHost: "::1", port: port)
        XCTAssertTrue(peer.hasPrefix("[::1]:"), "peer was \(peer)")
    }

    /// "::" is dual-stack whatever net.ipv6.bindv6only says: an IPv4 client
    /// is accepted and shows up as a v4-mapped address.
    func testDualStackListenerOnAnyAddressAcceptsIPv4Client() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(cnet_tcp_listen_host("::", 0, 16, 0, &port), "listen ::")
        defer { _ = cnet_close(listener) }

        let peer = try assertExchange(listener: listener, connectHost: "127.0.0.1", port: port)
        XCTAssertTrue(peer.hasPrefix("[::ffff:127.0.0.1]:"), "peer was \(peer)")
    }

    /// The server closes first, so its side of the connection sits in
    /// TIME_WAIT on the listening port; SO_REUSEADDR lets a new listener
    /// bind there at once (a plain bind is refused, which proves the
    /// TIME_WAIT is really in the way).
    func testListenAgainOnPortWithConnectionInTimeWaitSucceeds() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        let client = try ShimFailure.check(
            cnet_tcp_connect_host("127.0.0.1", port, LoopbackPair.safetyTimeoutMilliseconds, 0), "connect"
        )
        XCTAssertEqual(cnet_set_recv_timeout(client, LoopbackPair.safetyTimeoutMilliseconds), 0)
        let accepted = try ResolvedAddress.acceptPending(on: listener)

        XCTAssertEqual(cnet_close(accepted.fd), 0)  // active close: server side -> TIME_WAIT
        XCTAssertEqual(ShimIO.recvAll(client, count: 1).result, 0, "client should see end of stream")
        XCTAssertEqual(cnet_close(client), 0)  // its FIN moves the server side from FIN_WAIT2 on
        XCTAssertEqual(cnet_close(listener), 0)
        try waitForTimeWait(onLocalPort: port)
        XCTAssertEqual(
            plainBind(port: port), -EADDRINUSE, "without SO_REUSEADDR the port must be taken")

        let again = cnet_tcp_listen_host("127.0.0.1", port, 16, 0, nil)
        XCTAssertGreaterThanOrEqual(again, 0, "listen again: \(ShimFailure.errnoName(Int(again)))")
        if again >= 0 { _ = cnet_close(again) }
    }

    func testSecondListenOnSamePortGivesEADDRINUSE() throws {
        var port: UInt16 = 0
        let first = try ShimFailure.check(cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(first) }

        let second = cnet_tcp_listen_host("127.0.0.1", port, 16, 0, nil)
        if second >= 0 { _ = cnet_close(second) }
        XCTAssertEqual(second, -EADDRINUSE, "got \(ShimFailure.errnoName(Int(second)))")
    }

    /// CNET_LISTEN_REUSEPORT lets two listeners share a port (one per worker).
    func testTwoListenersWithReusePortShareThePort() throws {
        var port: UInt16 = 0
        let first = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, CNET_LISTEN_REUSEPORT, &port), "listen")
        defer { _ = cnet_close(first) }

        let second = cnet_tcp_listen_host("127.0.0.1", port, 16, CNET_LISTEN_REUSEPORT, nil)
        XCTAssertGreaterThanOrEqual(second, 0, "second listener: \(ShimFailure.errnoName(Int(second)))")
        if second >= 0 { _ = cnet_close(second) }
    }

    /// Connects to the listener, accepts, sends bytes each way; returns the
    /// accepted peer's address as text.
    @discardableResult
    private func assertExchange(listener: Int32, connectHost: String, port: UInt16) throws -> String {
        let client = try ShimFailure.check(
            cnet_tcp_connect_host(connectHost, port, LoopbackPair.safetyTimeoutMilliseconds, 0), "connect"
        )
        let accepted = try ResolvedAddress.acceptPending(on: listener)
        let pair = LoopbackPair(client: client, server: accepted.fd, port: port)
        defer { pair.close() }
        XCTAssertEqual(cnet_set_nonblocking(pair.server, 0), 0)
        try pair.applySafetyTimeouts()

        let ping = Array("ping".utf8)
        let pong = Array("pong!".utf8)
        XCTAssertEqual(ShimIO.sendAll(pair.client, ping).result, ping.count)
        XCTAssertEqual(ShimIO.recvAll(pair.server, count: ping.count).bytes, ping)
        XCTAssertEqual(ShimIO.sendAll(pair.server, pong).result, pong.count)
        XCTAssertEqual(ShimIO.recvAll(pair.client, count: pong.count).bytes, pong)
        return accepted.peer.formatted().text
    }

    /// Polls /proc/net/tcp (bounded) for a TIME_WAIT (state 06) entry whose
    /// local port is `port`.
    private func waitForTimeWait(onLocalPort port: UInt16) throws {
        let portHex = String(format: ":%04X", port)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let table = ProcFile.read("/proc/net/tcp") ?? ""
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count > 3 && fields[1].hasSuffix(portHex) && fields[3] == "06" { return }
            }
            usleep(1000)
        }
        XCTFail("no TIME_WAIT entry for port \(port)")
        throw ShimFailure(operation: "wait for TIME_WAIT", code: Int(-ETIMEDOUT))
    }

    /// socket + bind on 127.0.0.1:port WITHOUT SO_REUSEADDR: 0 or -errno.
    private func plainBind(port: UInt16) -> Int32 {
        guard let address = try? ResolvedAddress.resolve("127.0.0.1", port: port, passive: true) else {
            return -EINVAL
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return -errno }
        defer { close(fd) }
        let rc = address.withSockaddr { bind(fd, $0, $1) }
        return rc < 0 ? -errno : 0
    }

    /// cnet_tcp_listen on an address the caller resolved: IPv6 sockets are
    /// dual-stack, the flags apply, and bad input is -errno.
    func testListenOnAResolvedAddressAppliesItsFlags() throws {
        let any = try ResolvedAddress.resolve("::", port: 0, passive: true)
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            any.withSockaddr { cnet_tcp_listen($0, $1, 8, CNET_LISTEN_REUSEPORT | CNET_NONBLOCK, &port) }, "listen")
        defer { _ = cnet_close(listener) }
        XCTAssertNotEqual(port, 0)
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        XCTAssertEqual(getsockopt(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &value, &length), 0)
        XCTAssertEqual(value, 0, "dual-stack")
        XCTAssertEqual(getsockopt(listener, SOL_SOCKET, SO_REUSEPORT, &value, &length), 0)
        XCTAssertEqual(value, 1, "CNET_LISTEN_REUSEPORT")
        XCTAssertEqual(getsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &value, &length), 0)
        XCTAssertEqual(value, 1, "SO_REUSEADDR always")
        XCTAssertNotEqual(ShimIO.statusFlags(listener) & O_NONBLOCK, 0, "CNET_NONBLOCK")
        try assertExchange(listener: listener, connectHost: "127.0.0.1", port: port)

        XCTAssertEqual(cnet_tcp_listen(nil, 0, 8, 0, nil), -EINVAL)
        var unspecified = sockaddr_storage()
        unspecified.ss_family = sa_family_t(AF_UNSPEC)
        let bad = withUnsafePointer(to: &unspecified) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                cnet_tcp_listen($0, socklen_t(MemoryLayout<sockaddr_in>.size), 8, 0, nil)
            }
        }
        XCTAssertEqual(bad, -EAFNOSUPPORT)
    }
}

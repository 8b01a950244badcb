import CNetShim
import Glibc
import XCTest

final class ConnectTests: XCTestCase {
    /// A port that was just listened on and closed has nobody behind it.
    func testConnectToClosedPortGivesECONNREFUSED() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        XCTAssertEqual(cnet_close(listener), 0)

        let address = try ResolvedAddress.resolve("127.0.0.1", port: port)
        let result = address.withSockaddr {
            cnet_tcp_connect($0, $1, LoopbackPair.safetyTimeoutMilliseconds, 0)
        }
        if result >= 0 { _ = cnet_close(result) }
        XCTAssertEqual(result, -ECONNREFUSED, "got \(ShimFailure.errnoName(Int(result)))")
    }

    func testConnectHostLocalhostWorks() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(listener) }

        let client = cnet_tcp_connect_host("localhost", port, LoopbackPair.safetyTimeoutMilliseconds, 0)
        XCTAssertGreaterThanOrEqual(
            client, 0, "connect localhost: \(ShimFailure.errnoName(Int(client)))")
        guard client >= 0 else { return }
        let accepted = try ResolvedAddress.acceptPending(on: listener)
        let pair = LoopbackPair(client: client, server: accepted.fd, port: port)
        defer { pair.close() }
        XCTAssertEqual(cnet_set_nonblocking(pair.server, 0), 0)
        try pair.applySafetyTimeouts()
        XCTAssertEqual(ShimIO.sendAll(pair.client, [42]).result, 1)
        XCTAssertEqual(ShimIO.recvAll(pair.server, count: 1).bytes, [42])
    }

    func testResolveOfIPv6LiteralGivesIPv6Address() throws {
        let address = try ResolvedAddress.resolve("::1", port: 8080)
        XCTAssertEqual(Int32(address.storage.ss_family), AF_INET6)
        XCTAssertEqual(address.formatted().text, "[::1]:8080")
    }

    /// The split connect for event loops: start, wait for writability, ask
    /// for the outcome.
    func testConnectStartThenConnectResultReportsSuccess() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(listener) }
        let address = try ResolvedAddress.resolve("127.0.0.1", port: port)

        let fd = try ShimFailure.check(
            address.withSockaddr { cnet_connect_start($0, $1) }, "connect_start")
        defer { _ = cnet_close(fd) }
        XCTAssertNotEqual(ShimIO.statusFlags(fd) & O_NONBLOCK, 0)
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        XCTAssertEqual(poll(&entry, 1, LoopbackPair.safetyTimeoutMilliseconds), 1)
        XCTAssertEqual(cnet_connect_result(fd), 0)
    }

    func testConnectStartToClosedPortReportsECONNREFUSED() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        XCTAssertEqual(cnet_close(listener), 0)
        let address = try ResolvedAddress.resolve("127.0.0.1", port: port)

        let started = address.withSockaddr { cnet_connect_start($0, $1) }
        if started < 0 {
            // Refusal may also come straight from connect().
            XCTAssertEqual(started, -ECONNREFUSED)
            return
        }
        defer { _ = cnet_close(started) }
        var entry = pollfd(fd: started, events: Int16(POLLOUT), revents: 0)
        XCTAssertEqual(poll(&entry, 1, LoopbackPair.safetyTimeoutMilliseconds), 1)
        XCTAssertEqual(cnet_connect_result(started), -ECONNREFUSED)
    }
}

import CNetShim
import Glibc
import XCTest

/// `cnet_connect_start_from`: the load tester's bind-before-connect, called
/// directly. The accepting side sees the chosen local address as the peer.
final class ConnectFromTests: XCTestCase {
    private func listen() throws -> (fd: Int32, port: UInt16) {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        return (listener, port)
    }

    private func connect(from local: String, to address: ResolvedAddress) throws -> Int32 {
        let source = try ResolvedAddress.resolve(local, port: 0, passive: true)
        return address.withSockaddr { remote, length in
            source.withSockaddr { cnet_connect_start_from(remote, length, $0, $1) }
        }
    }

    func testEachConnectionComesFromItsLocalAddress() throws {
        let listener = try listen()
        defer { _ = cnet_close(listener.fd) }
        let address = try ResolvedAddress.resolve("127.0.0.1", port: listener.port)
        for local in ["127.0.0.2", "127.0.0.3"] {
            let fd = try ShimFailure.check(try connect(from: local, to: address), "connect_start_from")
            defer { _ = cnet_close(fd) }
            XCTAssertNotEqual(ShimIO.statusFlags(fd) & O_NONBLOCK, 0)
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            XCTAssertEqual(poll(&entry, 1, LoopbackPair.safetyTimeoutMilliseconds), 1)
            XCTAssertEqual(cnet_connect_result(fd), 0)
            let accepted = try ResolvedAddress.acceptPending(on: listener.fd)
            defer { _ = cnet_close(accepted.fd) }
            let peer = accepted.peer.formatted().text
            XCTAssertTrue(peer.hasPrefix("\(local):"), "peer \(peer), expected \(local)")
        }
    }

    func testAnAddressTheMachineDoesNotHaveIsEADDRNOTAVAIL() throws {
        let listener = try listen()
        defer { _ = cnet_close(listener.fd) }
        let address = try ResolvedAddress.resolve("127.0.0.1", port: listener.port)
        // 192.0.2.0/24 is TEST-NET-1: never a local address.
        let fd = try connect(from: "192.0.2.1", to: address)
        if fd >= 0 { _ = cnet_close(fd) }
        XCTAssertEqual(fd, -EADDRNOTAVAIL, ShimFailure.errnoName(Int(fd)))
    }

    func testFamiliesMustMatchAndNullIsEINVAL() throws {
        let address = try ResolvedAddress.resolve("127.0.0.1", port: 9)
        let fd = try connect(from: "::1", to: address)
        if fd >= 0 { _ = cnet_close(fd) }
        XCTAssertEqual(fd, -EINVAL)
        let nullLocal = address.withSockaddr { cnet_connect_start_from($0, $1, nil, 0) }
        XCTAssertEqual(nullLocal, -EINVAL)
    }
}

import CNetShim
import Glibc
import XCTest

/// cnet_uring_prep_accept_multishot: one armed request, one CQE per
/// connection, descriptors with the asked-for flags.
final class UringAcceptTests: XCTestCase {
    /// A listener on a loopback port with a multishot accept armed on it.
    private struct ArmedAccept {
        let listenFD: Int32
        let port: UInt16
        let ring: UringRing

        init(flags: Int32, tag: UInt64) throws {
            var port: UInt16 = 0
            listenFD = try ShimFailure.check(
                cnet_tcp_listen_host("127.0.0.1", 0, 16, CNET_NONBLOCK, &port), "cnet_tcp_listen_host")
            self.port = port
            do {
                ring = try UringRing()
                try ring.prep(cnet_uring_prep_accept_multishot(ring.handle, listenFD, flags, tag), "accept")
                try ring.submit()
            } catch {
                _ = cnet_close(listenFD)
                throw error
            }
        }

        func close() { _ = cnet_close(listenFD) }
    }

    private func connectClients(_ count: Int, port: UInt16) throws -> [Int32] {
        try (0..<count).map { _ in
            try ShimFailure.check(
                cnet_tcp_connect_host("127.0.0.1", port, LoopbackPair.safetyTimeoutMilliseconds, 0),
                "cnet_tcp_connect_host")
        }
    }

    /// The peer port of a connected socket.
    private func peerPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // Safe: getpeername writes at most `length` bytes into the sockaddr_in.
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return rc == 0 ? Int(UInt16(bigEndian: address.sin_port)) : -1
    }

    func testMultishotAcceptDeliversSeveralConnectionsFromOneRequest() throws {
        let armed = try ArmedAccept(flags: CNET_NONBLOCK, tag: 42)
        defer { armed.close() }
        let ring = armed.ring

        let clients = try connectClients(3, port: armed.port)
        defer { clients.forEach { _ = cnet_close($0) } }
        let completions = try ring.collect(3)
        defer { completions.forEach { if $0.result >= 0 { _ = cnet_close($0.result) } } }

        XCTAssertEqual(completions.count, 3, "\(completions)")
        for completion in completions {
            XCTAssertEqual(completion.userData, 42)
            XCTAssertGreaterThanOrEqual(completion.result, 0, "\(completion)")
            XCTAssertTrue(completion.more, "multishot accept must stay armed: \(completion)")
            XCTAssertNotEqual(ShimIO.statusFlags(completion.result) & O_NONBLOCK, 0, "CNET_NONBLOCK asked")
            XCTAssertNotEqual(ShimIO.descriptorFlags(completion.result) & FD_CLOEXEC, 0, "always close-on-exec")
        }
        let acceptedPeers = Set(completions.map { peerPort($0.result) })
        let clientPorts = Set(clients.map { Int(cnet_local_port($0)) })
        XCTAssertEqual(acceptedPeers, clientPorts, "each accepted socket is one of the clients")
    }

    func testAcceptedSocketsAreBlockingWithoutCNET_NONBLOCK() throws {
        let armed = try ArmedAccept(flags: 0, tag: 1)
        defer { armed.close() }
        let ring = armed.ring
        let clients = try connectClients(1, port: armed.port)
        defer { clients.forEach { _ = cnet_close($0) } }
        let completions = try ring.collect(1)
        let accepted = try XCTUnwrap(completions.first).result
        XCTAssertGreaterThanOrEqual(accepted, 0, "\(completions)")
        defer { _ = cnet_close(accepted) }
        XCTAssertEqual(ShimIO.statusFlags(accepted) & O_NONBLOCK, 0)
        XCTAssertNotEqual(ShimIO.descriptorFlags(accepted) & FD_CLOEXEC, 0)
    }

    /// A cancelled multishot accept ends with -ECANCELED and no F_MORE.
    func testCancelledAcceptEndsWithoutMore() throws {
        let armed = try ArmedAccept(flags: 0, tag: 5)
        defer { armed.close() }
        let ring = armed.ring
        try ring.prep(cnet_uring_prep_cancel(ring.handle, 5, 0, 6), "cancel")
        let completions = try ring.collect(2)
        let accept = try XCTUnwrap(completions.first { $0.userData == 5 }, "\(completions)")
        XCTAssertEqual(accept.result, -ECANCELED)
        XCTAssertFalse(accept.more)
        XCTAssertEqual(completions.first { $0.userData == 6 }?.result, 0, "\(completions)")
    }
}

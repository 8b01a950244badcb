import CNetShim
import Glibc
import XCTest

/// cnet_uring_prep_accept_multishot: one armed request, one CQE per
/// connection, descriptors with the asked-for flags.
final class UringAcceptTests: XCTestCase {
    private func listener() throws -> (fd: Int32, port: UInt16) {
        var port: UInt16 = 0
        let fd = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, CNET_NONBLOCK, &port), "cnet_tcp_listen_host")
        return (fd, port)
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
        let (listenFD, port) = try listener()
        defer { _ = cnet_close(listenFD) }
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_accept_multishot(ring.handle, listenFD, CNET_NONBLOCK, 42), "accept")
        try ring.submit()

        let clients = try connectClients(3, port: port)
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
        let (listenFD, port) = try listener()
        defer { _ = cnet_close(listenFD) }
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_accept_multishot(ring.handle, listenFD, 0, 1), "accept")
        try ring.submit()
        let clients = try connectClients(1, port: port)
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
        let (listenFD, _) = try listener()
        defer { _ = cnet_close(listenFD) }
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_accept_multishot(ring.handle, listenFD, 0, 5), "accept")
        try ring.submit()
        try ring.prep(cnet_uring_prep_cancel(ring.handle, 5, 0, 6), "cancel")
        let completions = try ring.collect(2)
        let accept = try XCTUnwrap(completions.first { $0.userData == 5 }, "\(completions)")
        XCTAssertEqual(accept.result, -ECANCELED)
        XCTAssertFalse(accept.more)
        XCTAssertEqual(completions.first { $0.userData == 6 }?.result, 0, "\(completions)")
    }
}

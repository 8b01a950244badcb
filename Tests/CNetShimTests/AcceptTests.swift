import CNetShim
import Glibc
import XCTest

final class AcceptTests: XCTestCase {
    func testAcceptOnNonBlockingListenerWithNothingPendingReturnsEAGAIN() throws {
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, CNET_NONBLOCK, nil), "listen")
        defer { _ = cnet_close(listener) }
        XCTAssertNotEqual(ShimIO.statusFlags(listener) & O_NONBLOCK, 0, "CNET_NONBLOCK listener")

        let result = cnet_accept(listener, nil, nil)
        if result >= 0 { _ = cnet_close(result) }
        XCTAssertEqual(result, -EAGAIN, "got \(ShimFailure.errnoName(Int(result)))")
    }

    /// The event loop relies on accepted sockets being non-blocking, and
    /// child processes must not inherit them.
    func testAcceptedDescriptorIsNonBlockingAndCloseOnExec() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(listener) }
        let client = try ShimFailure.check(
            cnet_tcp_connect_host("127.0.0.1", port, LoopbackPair.safetyTimeoutMilliseconds, 0), "connect"
        )
        defer { _ = cnet_close(client) }
        let accepted = try ResolvedAddress.acceptPending(on: listener)
        defer { _ = cnet_close(accepted.fd) }

        XCTAssertNotEqual(ShimIO.statusFlags(accepted.fd) & O_NONBLOCK, 0, "O_NONBLOCK")
        XCTAssertNotEqual(ShimIO.descriptorFlags(accepted.fd) & FD_CLOEXEC, 0, "FD_CLOEXEC")
        // The peer address came back and names the client.
        XCTAssertEqual(Int32(accepted.peer.storage.ss_family), AF_INET)
        XCTAssertTrue(accepted.peer.formatted().text.hasPrefix("127.0.0.1:"))
    }

    /// Descriptors the shim creates (listener, connected socket) are
    /// close-on-exec; a blocking connect leaves O_NONBLOCK off.
    func testListenAndConnectDescriptorsAreCloseOnExec() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(listener) }
        let client = try ShimFailure.check(
            cnet_tcp_connect_host("127.0.0.1", port, LoopbackPair.safetyTimeoutMilliseconds, 0), "connect"
        )
        defer { _ = cnet_close(client) }

        XCTAssertNotEqual(ShimIO.descriptorFlags(listener) & FD_CLOEXEC, 0, "listener FD_CLOEXEC")
        XCTAssertNotEqual(ShimIO.descriptorFlags(client) & FD_CLOEXEC, 0, "client FD_CLOEXEC")
        XCTAssertEqual(ShimIO.statusFlags(client) & O_NONBLOCK, 0, "blocking connect result")
    }

    /// The peer storage is zeroed before accept fills it: no stale bytes
    /// past the sockaddr_in the kernel writes.
    func testAcceptZeroesThePeerStorage() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port), "listen")
        defer { _ = cnet_close(listener) }
        let client = try ShimFailure.check(
            cnet_tcp_connect_host("127.0.0.1", port, LoopbackPair.safetyTimeoutMilliseconds, 0), "connect")
        defer { _ = cnet_close(client) }
        try LoopbackPair.waitReadable(listener, milliseconds: LoopbackPair.safetyTimeoutMilliseconds)

        var peer = sockaddr_storage()
        _ = withUnsafeMutableBytes(of: &peer) { $0.initializeMemory(as: UInt8.self, repeating: 0xAA) }
        var length: socklen_t = 0
        let accepted = try ShimFailure.check(cnet_accept(listener, &peer, &length), "cnet_accept")
        defer { _ = cnet_close(accepted) }
        XCTAssertEqual(length, socklen_t(MemoryLayout<sockaddr_in>.size))
        let tail = withUnsafeBytes(of: &peer) { Array($0[Int(length)...]) }
        XCTAssertEqual(tail, [UInt8](repeating: 0, count: tail.count))
    }
}

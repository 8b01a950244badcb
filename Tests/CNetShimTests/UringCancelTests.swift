import CNetShim
import Glibc
import XCTest

/// Cancellation, the io_uring half of closing a connection: close() alone
/// cancels nothing and keeps the socket alive; a cancel makes the request
/// complete with -ECANCELED and posts its own CQE too.
final class UringCancelTests: XCTestCase {
    private let recvTag = cnet_uring_user_data(1, 12, 3)
    private let pollTag = cnet_uring_user_data(2, 12, 3)
    private let cancelTag = cnet_uring_user_data(9, 12, 3)

    private func armedRecv() throws -> (pair: LoopbackPair, ring: UringRing) {
        let armed = try UringArmedRecv(entries: 4, bufferSize: 64, tag: recvTag)
        return (armed.pair, armed.ring)
    }

    func testCancelByTagEndsTheRecvAndBothCQEsArrive() throws {
        let (_, ring) = try armedRecv()
        try ring.prep(cnet_uring_prep_cancel(ring.handle, recvTag, 0, cancelTag), "cancel")
        let completions = try ring.collect(2)
        XCTAssertEqual(completions.count, 2, "\(completions)")
        let recv = try XCTUnwrap(completions.first { $0.userData == recvTag }, "\(completions)")
        XCTAssertEqual(recv.result, -ECANCELED)
        XCTAssertFalse(recv.more, "a cancelled multishot is over")
        let cancel = try XCTUnwrap(completions.first { $0.userData == cancelTag }, "\(completions)")
        XCTAssertEqual(cancel.result, 0)
    }

    /// cancel_fd takes every request on the descriptor and counts them.
    func testCancelByDescriptorTakesEveryRequestOnIt() throws {
        let (pair, ring) = try armedRecv()
        try ring.prep(cnet_uring_prep_poll(ring.handle, pair.server, CNET_EV_WRITE | CNET_EV_READ, 1, pollTag), "poll")
        let writable = try ring.collect(1)
        XCTAssertEqual(writable.first?.userData, pollTag, "an idle socket is writable at once: \(writable)")
        try ring.prep(cnet_uring_prep_cancel_fd(ring.handle, pair.server, cancelTag), "cancel_fd")
        let completions = try ring.collect { $0.contains { $0.userData == cancelTag } }
        XCTAssertEqual(completions.first { $0.userData == recvTag }?.result, -ECANCELED, "\(completions)")
        XCTAssertEqual(completions.last { $0.userData == pollTag }?.result, -ECANCELED, "\(completions)")
        XCTAssertEqual(completions.first { $0.userData == cancelTag }?.result, 2, "two requests cancelled")
    }

    /// By tag, no match is -ENOENT; by descriptor (which cancels all) it is a count of 0.
    func testCancellingNothingReportsNoMatch() throws {
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_cancel(ring.handle, 12345, 0, cancelTag), "cancel")
        XCTAssertEqual(try ring.collect(1).first?.result, -ENOENT)
        let idle = try ShimFailure.check(cnet_eventfd_create(), "cnet_eventfd_create")
        defer { _ = cnet_close(idle) }
        try ring.prep(cnet_uring_prep_cancel_fd(ring.handle, idle, cancelTag), "cancel_fd")
        XCTAssertEqual(try ring.collect(1).first?.result, 0)
    }

    /// The pitfall the backend must handle on close: an armed request holds
    /// the socket, so close() sends no FIN; cancelling it (by tag: the
    /// descriptor number is gone) releases the socket and the peer sees the
    /// end of stream.
    func testCloseAloneKeepsTheSocketOpenUntilItsRequestIsCancelled() throws {
        let (pair, ring) = try armedRecv()
        pair.closeServer()
        var peer = pollfd(fd: pair.client, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&peer, 1, 200), 0, "no FIN may reach the peer while the recv holds the socket")

        try ring.prep(cnet_uring_prep_cancel(ring.handle, recvTag, 0, cancelTag), "cancel")
        let completions = try ring.collect(2)
        XCTAssertEqual(completions.first { $0.userData == recvTag }?.result, -ECANCELED, "\(completions)")
        XCTAssertEqual(completions.first { $0.userData == cancelTag }?.result, 0, "\(completions)")
        XCTAssertEqual(ShimIO.recvAll(pair.client, count: 1).result, 0, "the peer now sees the end of stream")
    }
}

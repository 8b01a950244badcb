import CNetShim
import Glibc
import XCTest

/// send_some / recv_some on a non-blocking socketpair, where "the buffer
/// is full" and "nothing is ready" happen deterministically.
final class NonBlockingIOTests: XCTestCase {
    private func nonBlockingPair() throws -> LoopbackPair {
        let pair = try LoopbackPair.unix()
        XCTAssertEqual(cnet_set_nonblocking(pair.client, 1), 0)
        XCTAssertEqual(cnet_set_nonblocking(pair.server, 1), 0)
        XCTAssertEqual(cnet_set_send_buffer(pair.client, 4096), 0)
        return pair
    }

    /// send_some moves what fits and stops at EAGAIN; with the buffer full
    /// the next call moves 0; recv_some then drains exactly those bytes.
    func testSendSomeMovesBytesUntilBufferIsFullThenRecvSomeDrainsThem() throws {
        let pair = try nonBlockingPair()
        defer { pair.close() }
        let payload = ShimIO.pattern(count: 1 << 20)

        let moved = ShimIO.sendSome(pair.client, payload)
        XCTAssertGreaterThan(moved, 0, "got \(ShimFailure.errnoName(moved))")
        XCTAssertLessThan(moved, payload.count, "a 4 KiB buffer cannot take 1 MiB")
        XCTAssertEqual(ShimIO.sendSome(pair.client, payload), 0, "full buffer takes nothing")

        let (drained, bytes) = ShimIO.recvSome(pair.server, capacity: payload.count)
        XCTAssertEqual(drained, moved)
        XCTAssertTrue(bytes == Array(payload.prefix(moved)), "drained bytes differ")
        XCTAssertEqual(ShimIO.recvSome(pair.server, capacity: 16).result, -Int(EAGAIN))
    }

    /// recv_some stops when its buffer is full, leaving the rest queued.
    func testRecvSomeStopsWhenBufferIsFull() throws {
        let pair = try nonBlockingPair()
        defer { pair.close() }
        let payload = Array("0123456789".utf8)
        XCTAssertEqual(ShimIO.sendSome(pair.client, payload), payload.count)

        XCTAssertEqual(ShimIO.recvSome(pair.server, capacity: 4).bytes, Array("0123".utf8))
        XCTAssertEqual(ShimIO.recvSome(pair.server, capacity: 100).bytes, Array("456789".utf8))
    }

    func testRecvSomeReturnsEAGAINWhenNothingIsReady() throws {
        let pair = try nonBlockingPair()
        defer { pair.close() }
        let result = ShimIO.recvSome(pair.server, capacity: 64).result
        XCTAssertEqual(result, -Int(EAGAIN), "got \(ShimFailure.errnoName(result))")
        XCTAssertEqual(ShimIO.recvOnce(pair.server, capacity: 64).result, -Int(EAGAIN), "cnet_recv")
    }

    /// End of stream after data: the data first, then 0 on the next call.
    func testRecvSomeReportsEndOfStreamAsZeroOnTheNextCall() throws {
        let pair = try nonBlockingPair()
        defer { pair.close() }
        let payload = Array("last words".utf8)
        XCTAssertEqual(ShimIO.sendSome(pair.client, payload), payload.count)
        pair.closeClient()

        let first = ShimIO.recvSome(pair.server, capacity: 100)
        XCTAssertEqual(first.result, payload.count)
        XCTAssertEqual(first.bytes, payload)
        XCTAssertEqual(ShimIO.recvSome(pair.server, capacity: 100).result, 0)
    }
}

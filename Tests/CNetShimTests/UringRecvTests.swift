import CNetShim
import Glibc
import XCTest

/// Multishot recv into a provided buffer ring over a real TCP connection:
/// bytes and buffer ids, buffers handed back and reused, the empty ring's
/// ENOBUFS and the re-arm after it, end of stream.
final class UringRecvTests: XCTestCase {
    private let recvTag: UInt64 = 0x0100_0000_0000_0007

    /// Sends `message` from the client end and waits for the one CQE it makes.
    private func sendAndCollect(_ message: [UInt8], on pair: LoopbackPair, ring: UringRing) throws
        -> UringCompletion
    {
        XCTAssertEqual(ShimIO.sendAll(pair.client, message).result, message.count)
        let completions = try ring.collect(1)
        XCTAssertEqual(completions.count, 1, "\(completions)")
        return try XCTUnwrap(completions.first)
    }

    func testEachArrivalLandsInItsOwnRingBufferAndTheRecvStaysArmed() throws {
        let pair = try LoopbackPair.tcp()
        let ring = try UringRing()
        let buffers = try ring.bufferRing(entries: 8, bufferSize: 64)
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, recvTag), "recv")
        try ring.submit()

        var seenIDs: Set<UInt16> = []
        for message in ["alpha", "bravo!", "charlie-7"].map({ Array($0.utf8) }) {
            let completion = try sendAndCollect(message, on: pair, ring: ring)
            XCTAssertEqual(completion.userData, recvTag)
            XCTAssertEqual(completion.result, Int32(message.count), "\(completion)")
            XCTAssertTrue(completion.more, "multishot recv must stay armed: \(completion)")
            let id = try XCTUnwrap(completion.bufferID, "no buffer id in \(completion)")
            XCTAssertLessThan(UInt32(id), buffers.entries)
            XCTAssertTrue(seenIDs.insert(id).inserted, "buffer \(id) handed out twice without a return")
            XCTAssertEqual(buffers.bytes(id, count: message.count), message)
        }
    }

    /// With two buffers, ten messages get through only because each buffer
    /// goes back to the ring after its bytes are read; the ids repeat.
    func testReturnedBuffersAreReused() throws {
        let pair = try LoopbackPair.tcp()
        let ring = try UringRing()
        let buffers = try ring.bufferRing(entries: 2, bufferSize: 32)
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, recvTag), "recv")
        try ring.submit()

        var idCounts: [UInt16: Int] = [:]
        for index in 0..<10 {
            let message = ShimIO.pattern(count: 20 + index, from: index * 101)
            let completion = try sendAndCollect(message, on: pair, ring: ring)
            XCTAssertEqual(completion.result, Int32(message.count), "message \(index): \(completion)")
            XCTAssertTrue(completion.more, "message \(index): \(completion)")
            let id = try XCTUnwrap(completion.bufferID)
            XCTAssertEqual(buffers.bytes(id, count: message.count), message, "message \(index)")
            idCounts[id, default: 0] += 1
            try buffers.giveBack(id)
        }
        XCTAssertEqual(Set(idCounts.keys), [0, 1], "only the ring's two buffers exist")
        XCTAssertEqual(idCounts.values.reduce(0, +), 10)
    }

    /// One arrival larger than a buffer is spread over several CQEs, in order.
    func testArrivalLargerThanABufferSpansSeveralBuffersInOrder() throws {
        let pair = try LoopbackPair.tcp()
        let ring = try UringRing()
        let buffers = try ring.bufferRing(entries: 16, bufferSize: 64)
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, recvTag), "recv")
        try ring.submit()

        let message = ShimIO.pattern(count: 300)
        XCTAssertEqual(ShimIO.sendAll(pair.client, message).result, message.count)
        var received: [UInt8] = []
        let completions = try ring.collect { batch in
            batch.reduce(0) { $0 + Int(max($1.result, 0)) } >= message.count || batch.contains { !$0.more }
        }
        for completion in completions {
            XCTAssertGreaterThan(completion.result, 0, "\(completion)")
            XCTAssertLessThanOrEqual(completion.result, 64, "a CQE never exceeds one buffer")
            XCTAssertTrue(completion.more, "\(completion)")
            let id = try XCTUnwrap(completion.bufferID)
            received += buffers.bytes(id, count: Int(completion.result))
        }
        XCTAssertEqual(received, message)
        XCTAssertGreaterThanOrEqual(completions.count, 5, "300 bytes need at least five 64-byte buffers")
    }

    /// When the ring runs dry the recv ends with -ENOBUFS (no F_MORE) and
    /// the bytes stay in the socket; handing buffers back and re-arming
    /// delivers them.
    func testEmptyRingEndsTheRecvWithENOBUFSAndARearmRecovers() throws {
        let pair = try LoopbackPair.tcp()
        let ring = try UringRing()
        let buffers = try ring.bufferRing(entries: 2, bufferSize: 16)
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, recvTag), "recv")
        try ring.submit()

        let first = try sendAndCollect(ShimIO.pattern(count: 16, from: 0), on: pair, ring: ring)
        let second = try sendAndCollect(ShimIO.pattern(count: 16, from: 16), on: pair, ring: ring)
        XCTAssertTrue(first.more && second.more, "\(first) \(second)")
        let third = ShimIO.pattern(count: 16, from: 32)
        let starved = try sendAndCollect(third, on: pair, ring: ring)
        XCTAssertEqual(starved.result, -ENOBUFS, "\(starved)")
        XCTAssertFalse(starved.more, "ENOBUFS ends the multishot recv")
        XCTAssertNil(starved.bufferID)

        try buffers.giveBack(try XCTUnwrap(first.bufferID))
        try buffers.giveBack(try XCTUnwrap(second.bufferID))
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, recvTag), "re-arm")
        let recovered = try ring.collect(1)
        let completion = try XCTUnwrap(recovered.first, "the re-armed recv delivered nothing")
        XCTAssertEqual(completion.result, 16, "\(completion)")
        XCTAssertTrue(completion.more)
        XCTAssertEqual(buffers.bytes(try XCTUnwrap(completion.bufferID), count: 16), third, "the held-back bytes")
    }

    func testEndOfStreamEndsTheRecvWithZero() throws {
        let pair = try LoopbackPair.tcp()
        let ring = try UringRing()
        let buffers = try ring.bufferRing(entries: 4, bufferSize: 64)
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, recvTag), "recv")
        try ring.submit()
        pair.closeClient()
        let completion = try XCTUnwrap(try ring.collect(1).first)
        XCTAssertEqual(completion.result, 0, "\(completion)")
        XCTAssertFalse(completion.more)
        XCTAssertNil(completion.bufferID)
    }

    /// The single-shot recv into the caller's own buffer.
    func testSingleRecvFillsTheCallersBuffer() throws {
        let pair = try LoopbackPair.tcp()
        let ring = try UringRing()
        // Safe: the kernel writes into it until the recv's CQE, which collect()
        // waits for before the deferred deallocate runs.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        try ring.prep(cnet_uring_prep_recv(ring.handle, pair.server, buffer.baseAddress, buffer.count, 9), "recv")
        try ring.submit()
        let message = Array("one shot".utf8)
        XCTAssertEqual(ShimIO.sendAll(pair.client, message).result, message.count)
        let completion = try XCTUnwrap(try ring.collect(1).first)
        XCTAssertEqual(completion.result, Int32(message.count))
        XCTAssertFalse(completion.more)
        XCTAssertEqual(Array(buffer.prefix(message.count)), message)
    }
}

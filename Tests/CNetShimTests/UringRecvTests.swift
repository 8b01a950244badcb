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
        let armed = try UringArmedRecv(entries: 8, bufferSize: 64, tag: recvTag)

        var seenIDs: Set<UInt16> = []
        for message in ["alpha", "bravo!", "charlie-7"].map({ Array($0.utf8) }) {
            let completion = try sendAndCollect(message, on: armed.pair, ring: armed.ring)
            XCTAssertEqual(completion.userData, recvTag)
            XCTAssertEqual(completion.result, Int32(message.count), "\(completion)")
            XCTAssertTrue(completion.more, "multishot recv must stay armed: \(completion)")
            let id = try XCTUnwrap(completion.bufferID, "no buffer id in \(completion)")
            XCTAssertLessThan(UInt32(id), armed.buffers.entries)
            XCTAssertTrue(seenIDs.insert(id).inserted, "buffer \(id) handed out twice without a return")
            XCTAssertEqual(armed.buffers.bytes(id, count: message.count), message)
        }
    }

    /// With two armed.buffers, ten messages get through only because each buffer
    /// goes back to the armed.ring after its bytes are read; the ids repeat.
    func testReturnedBuffersAreReused() throws {
        let armed = try UringArmedRecv(entries: 2, bufferSize: 32, tag: recvTag)

        var idCounts: [UInt16: Int] = [:]
        for index in 0..<10 {
            let message = ShimIO.pattern(count: 20 + index, from: index * 101)
            let completion = try sendAndCollect(message, on: armed.pair, ring: armed.ring)
            XCTAssertEqual(completion.result, Int32(message.count), "message \(index): \(completion)")
            XCTAssertTrue(completion.more, "message \(index): \(completion)")
            let id = try XCTUnwrap(completion.bufferID)
            XCTAssertEqual(armed.buffers.bytes(id, count: message.count), message, "message \(index)")
            idCounts[id, default: 0] += 1
            try armed.buffers.giveBack(id)
        }
        XCTAssertEqual(Set(idCounts.keys), [0, 1], "only the armed.ring's two armed.buffers exist")
        XCTAssertEqual(idCounts.values.reduce(0, +), 10)
    }

    /// One arrival larger than a buffer is spread over several CQEs, in order.
    func testArrivalLargerThanABufferSpansSeveralBuffersInOrder() throws {
        let armed = try UringArmedRecv(entries: 16, bufferSize: 64, tag: recvTag)

        let message = ShimIO.pattern(count: 300)
        XCTAssertEqual(ShimIO.sendAll(armed.pair.client, message).result, message.count)
        var received: [UInt8] = []
        let completions = try armed.ring.collect { batch in
            batch.reduce(0) { $0 + Int(max($1.result, 0)) } >= message.count || batch.contains { !$0.more }
        }
        for completion in completions {
            XCTAssertGreaterThan(completion.result, 0, "\(completion)")
            XCTAssertLessThanOrEqual(completion.result, 64, "a CQE never exceeds one buffer")
            XCTAssertTrue(completion.more, "\(completion)")
            let id = try XCTUnwrap(completion.bufferID)
            received += armed.buffers.bytes(id, count: Int(completion.result))
        }
        XCTAssertEqual(received, message)
        XCTAssertGreaterThanOrEqual(completions.count, 5, "300 bytes need at least five 64-byte armed.buffers")
    }

    /// When the armed.ring runs dry the recv ends with -ENOBUFS (no F_MORE) and
    /// the bytes stay in the socket; handing armed.buffers back and re-arming
    /// delivers them.
    func testEmptyRingEndsTheRecvWithENOBUFSAndARearmRecovers() throws {
        let armed = try UringArmedRecv(entries: 2, bufferSize: 16, tag: recvTag)

        let first = try sendAndCollect(ShimIO.pattern(count: 16, from: 0), on: armed.pair, ring: armed.ring)
        let second = try sendAndCollect(ShimIO.pattern(count: 16, from: 16), on: armed.pair, ring: armed.ring)
        XCTAssertTrue(first.more && second.more, "\(first) \(second)")
        let third = ShimIO.pattern(count: 16, from: 32)
        let starved = try sendAndCollect(third, on: armed.pair, ring: armed.ring)
        XCTAssertEqual(starved.result, -ENOBUFS, "\(starved)")
        XCTAssertFalse(starved.more, "ENOBUFS ends the multishot recv")
        XCTAssertNil(starved.bufferID)

        try armed.buffers.giveBack(try XCTUnwrap(first.bufferID))
        try armed.buffers.giveBack(try XCTUnwrap(second.bufferID))
        try armed.rearm()
        let recovered = try armed.ring.collect(1)
        let completion = try XCTUnwrap(recovered.first, "the re-armed recv delivered nothing")
        XCTAssertEqual(completion.result, 16, "\(completion)")
        XCTAssertTrue(completion.more)
        XCTAssertEqual(armed.buffers.bytes(try XCTUnwrap(completion.bufferID), count: 16), third, "the held-back bytes")
    }

    func testEndOfStreamEndsTheRecvWithZero() throws {
        let armed = try UringArmedRecv(entries: 4, bufferSize: 64, tag: recvTag)
        armed.pair.closeClient()
        let completion = try XCTUnwrap(try armed.ring.collect(1).first)
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

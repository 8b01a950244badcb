import CNetShim
import Glibc
import XCTest

final class RecvAllTests: XCTestCase {
    /// A message that trickles in one byte per write is assembled whole.
    func testRecvAllAssemblesMessageWrittenInOneByteWrites() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        // No Nagle: each 1-byte write leaves as its own segment.
        XCTAssertEqual(cnet_set_nodelay(pair.client, 1), 0)
        let message = Array("assembled from one-byte writes, in order".utf8)

        let writer = pair.client
        let writeResults = ResultBox<[Int]>()
        let thread = TestThread.start {
            var results: [Int] = []
            for byte in message {
                results.append(ShimIO.sendAll(writer, [byte]).result)
                sched_yield()  // let the reader wake up between bytes
            }
            writeResults.set(results)
        }

        let (result, received, bytes) = ShimIO.recvAll(pair.server, count: message.count)
        XCTAssertTrue(thread.join(), "writer did not finish")
        XCTAssertEqual(writeResults.value ?? [], Array(repeating: 1, count: message.count))
        XCTAssertEqual(result, message.count, "recv_all: \(ShimFailure.errnoName(result))")
        XCTAssertEqual(received, message.count)
        XCTAssertEqual(bytes, message)
    }

    /// The peer sends less than asked for and closes: the short count is
    /// the answer, not an error.
    func testRecvAllReturnsShortCountWhenPeerClosesEarly() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        let sentBytes = Array("only this".utf8)
        XCTAssertEqual(ShimIO.sendAll(pair.client, sentBytes).result, sentBytes.count)
        pair.closeClient()

        let (result, received, bytes) = ShimIO.recvAll(pair.server, count: 100)
        XCTAssertEqual(result, sentBytes.count, "recv_all: \(ShimFailure.errnoName(result))")
        XCTAssertEqual(received, sentBytes.count)
        XCTAssertEqual(bytes, sentBytes)
    }

    /// A peer that closes before sending anything gives 0.
    func testRecvAllReturnsZeroWhenPeerClosesBeforeSending() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        pair.closeClient()
        let (result, received, _) = ShimIO.recvAll(pair.server, count: 10)
        XCTAssertEqual(result, 0)
        XCTAssertEqual(received, 0)
    }

    /// SO_RCVTIMEO of 200 ms: recv_all waits about that long for the rest,
    /// then gives -EAGAIN and reports the bytes that did arrive.
    func testRecvAllTimesOutWithEAGAINAndReportsBytesReceived() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_recv_timeout(pair.server, 200), 0)
        let early = Array("seven b".utf8)
        XCTAssertEqual(ShimIO.sendAll(pair.client, early).result, early.count)

        let clock = ContinuousClock()
        let start = clock.now
        let (result, received, bytes) = ShimIO.recvAll(pair.server, count: 100)
        let elapsed = clock.now - start

        XCTAssertEqual(result, -Int(EAGAIN), "got \(ShimFailure.errnoName(result))")
        XCTAssertEqual(received, early.count)
        XCTAssertEqual(bytes, early)
        // Loose bounds: this checks that the timeout applies, not its precision.
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(150))
        XCTAssertLessThan(elapsed, .seconds(5))
    }
}

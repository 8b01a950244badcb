import CNetShim
import Glibc
import XCTest

final class SendAllTests: XCTestCase {
    /// 8 MiB through 4 KiB socket buffers to a reader that takes small,
    /// odd-sized bites: send_all must loop over many partial sends and
    /// every byte must arrive once, in order.
    func testSendAllOfEightMebibytesThroughTinyBuffersToSlowReaderArrivesIntact() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_send_buffer(pair.client, 4096), 0)
        XCTAssertEqual(cnet_set_recv_buffer(pair.server, 4096), 0)
        let total = 8 << 20
        let payload = ShimIO.pattern(count: total)

        let reader = pair.server
        let outcome = ResultBox<(received: Int, firstMismatch: Int?, error: Int?)>()
        let thread = TestThread.start {
            var received = 0
            var firstMismatch: Int?
            while received < total {
                let (result, bytes) = ShimIO.recvOnce(reader, capacity: min(997, total - received))
                if result <= 0 {
                    outcome.set((received, firstMismatch, result))
                    return
                }
                if firstMismatch == nil && !bytes.elementsEqual(payload[received..<(received + result)]) {
                    firstMismatch = received
                }
                received += result
            }
            outcome.set((received, firstMismatch, nil))
        }

        let (result, sent) = ShimIO.sendAll(pair.client, payload)
        XCTAssertTrue(thread.join(seconds: 60), "reader did not finish")
        XCTAssertEqual(result, total, "send_all: \(ShimFailure.errnoName(result))")
        XCTAssertEqual(sent, total)
        let read = try XCTUnwrap(outcome.value)
        XCTAssertNil(read.error, "reader failed: \(ShimFailure.errnoName(read.error ?? 0))")
        XCTAssertEqual(read.received, total)
        XCTAssertNil(
            read.firstMismatch, "bytes differ in the chunk at offset \(read.firstMismatch ?? -1)")
    }

    /// The same over real TCP on loopback with small buffers: the kernel
    /// splits the stream into segments, send_all must still deliver it all.
    /// (16 KiB rather than 4 KiB: TCP windows that small stall on delayed
    /// ACKs and would make the test slow without testing anything more.)
    func testSendAllOverTCPWithSmallBuffersArrivesIntact() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_send_buffer(pair.client, 16384), 0)
        XCTAssertEqual(cnet_set_recv_buffer(pair.server, 16384), 0)
        let total = 1 << 20
        let payload = ShimIO.pattern(count: total, from: 12_345)

        let reader = pair.server
        let outcome = ResultBox<(result: Int, bytes: [UInt8])>()
        let thread = TestThread.start {
            let (result, _, bytes) = ShimIO.recvAll(reader, count: total)
            outcome.set((result, bytes))
        }
        let (result, sent) = ShimIO.sendAll(pair.client, payload)
        XCTAssertTrue(thread.join(seconds: 60), "reader did not finish")
        XCTAssertEqual(result, total, "send_all: \(ShimFailure.errnoName(result))")
        XCTAssertEqual(sent, total)
        let read = try XCTUnwrap(outcome.value)
        XCTAssertEqual(read.result, total)
        XCTAssertTrue(read.bytes == payload, "received bytes differ from the payload")
    }

    /// A peer that never reads: once both buffers are full, SO_SNDTIMEO
    /// expires and send_all gives -EAGAIN and says how much went out.
    func testSendAllToPeerThatNeverReadsTimesOutWithEAGAINAndReportsSent() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_send_buffer(pair.client, 4096), 0)
        XCTAssertEqual(cnet_set_recv_buffer(pair.server, 4096), 0)
        XCTAssertEqual(cnet_set_send_timeout(pair.client, 200), 0)
        let total = 1 << 20  // far more than 4 KiB buffers hold

        let (result, sent) = ShimIO.sendAll(pair.client, ShimIO.pattern(count: total))
        XCTAssertEqual(result, -Int(EAGAIN), "got \(ShimFailure.errnoName(result))")
        XCTAssertGreaterThan(sent, 0, "the buffers take some bytes before the timeout")
        XCTAssertLessThan(sent, total)
    }

    func testSendAllOfZeroBytesReturnsZero() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        let (result, sent) = ShimIO.sendAll(pair.client, [])
        XCTAssertEqual(result, 0)
        XCTAssertEqual(sent, 0)
    }
}

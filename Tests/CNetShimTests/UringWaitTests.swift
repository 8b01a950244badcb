import CNetShim
import Dispatch
import Glibc
import XCTest

/// The loop's wait and reap: submit_and_wait's timeout, wake-ups through an
/// eventfd (poll and read) and a signalfd, peek's contiguous runs across the
/// CQ ring's wrap, completions beyond the CQ size, and a full SQ.
final class UringWaitTests: XCTestCase {
    private static let siginfoSize = 128

    /// Nothing armed can fire: the wait returns 0 once the timeout passed.
    func testSubmitAndWaitReturnsZeroAfterTheTimeoutWhenNothingHappens() throws {
        let armed = try UringArmedRecv(entries: 4, bufferSize: 64, tag: 1, submit: false)
        let timeout = Duration.milliseconds(50)
        let started = ContinuousClock.now
        XCTAssertEqual(cnet_uring_submit_and_wait(armed.ring.handle, 1, UringRing.nanoseconds(timeout)), 0)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, timeout, "returned before its timeout")
        XCTAssertEqual(cnet_uring_sq_pending(armed.ring.handle), 0, "the recv was submitted by the same call")
        XCTAssertEqual(armed.ring.reap(), [])
        XCTAssertEqual(cnet_uring_submit_and_wait(armed.ring.handle, 1, 0), 0, "a zero timeout does not block")
    }

    /// The wait ends as soon as a completion is ready, long before its timeout.
    func testSubmitAndWaitReturnsTheReadyCountWhenACompletionArrives() throws {
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_nop(ring.handle, 1), "nop")
        try ring.prep(cnet_uring_prep_nop(ring.handle, 2), "nop")
        XCTAssertEqual(cnet_uring_submit_and_wait(ring.handle, 2, UringRing.nanoseconds(.seconds(10))), 2)
        XCTAssertEqual(ring.reap().map(\.userData), [1, 2])
    }

    /// The loop's wake-up: another thread writes the eventfd; a multishot
    /// poll posts a CQE per wake-up and stays armed.
    func testEventfdWakeUpArrivesThroughAMultishotPoll() throws {
        let wake = try ShimFailure.check(cnet_eventfd_create(), "cnet_eventfd_create")
        defer { _ = cnet_close(wake) }
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_poll(ring.handle, wake, CNET_EV_READ, 1, 77), "poll")
        try ring.submit()
        XCTAssertEqual(try ring.collect(1, timeout: .milliseconds(20)), [], "nothing before the wake-up")

        for round in 1...2 {
            let waker = TestThread.start { _ = cnet_eventfd_signal(wake) }
            let completions = try ring.collect(1)
            XCTAssertTrue(waker.join())
            let completion = try XCTUnwrap(completions.first, "wake-up \(round) did not arrive")
            XCTAssertEqual(completion.userData, 77)
            XCTAssertNotEqual(UInt32(completion.result) & CNET_EV_READ, 0, "\(completion)")
            XCTAssertTrue(completion.more, "wake-up \(round): the poll must stay armed")
            XCTAssertEqual(cnet_eventfd_drain(wake), 1)
        }
    }

    /// A read on the (non-blocking) eventfd waits for the write and brings
    /// the counter itself: no drain syscall afterwards.
    func testEventfdReadWaitsForTheWakeUpAndDeliversTheCounter() throws {
        let wake = try ShimFailure.check(cnet_eventfd_create(), "cnet_eventfd_create")
        defer { _ = cnet_close(wake) }
        let ring = try UringRing()
        // Safe: the kernel writes 8 bytes into it before the read's CQE, which
        // collect() waits for before the deferred deallocate.
        let counter = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { counter.deallocate() }
        counter.pointee = 0
        try ring.prep(cnet_uring_prep_read(ring.handle, wake, counter, 8, 5), "read")
        try ring.submit()
        XCTAssertEqual(
            try ring.collect(1, timeout: .milliseconds(20)), [], "a non-blocking eventfd must not fail EAGAIN")

        let waker = TestThread.start {
            _ = cnet_eventfd_signal(wake)
            _ = cnet_eventfd_signal(wake)
        }
        XCTAssertTrue(waker.join())
        let completion = try XCTUnwrap(try ring.collect(1).first)
        XCTAssertEqual(completion.result, 8, "\(completion)")
        XCTAssertEqual(counter.pointee, 2)
        XCTAssertEqual(cnet_eventfd_drain(wake), -Int64(EAGAIN), "the read consumed the counter")
    }

    /// A signal for the loop's thread arrives as a read on its signalfd.
    /// The whole test runs on its own thread: the signal mask is per thread,
    /// and the ring must live on the thread that waits.
    func testSignalfdReadDeliversASignalForTheLoopThread() throws {
        let ready = DispatchSemaphore(value: 0)
        let outcome = ResultBox<(result: Int32, signal: UInt32)>()
        let loop = TestThread.start {
            var signals = [SIGUSR2]
            let signalFD = cnet_signalfd_open(&signals, 1)
            var ring: OpaquePointer?
            guard signalFD >= 0, cnet_uring_create(8, 0, CNET_URING_SETUP_PREFERRED, &ring) == 0, let ring else {
                outcome.set((-1, 0))
                ready.signal()
                return
            }
            defer {
                cnet_uring_destroy(ring)
                _ = cnet_close(signalFD)
            }
            // struct signalfd_siginfo (not visible to Swift): 128 bytes, the
            // signal number in the first 4.
            // Safe: the buffer outlives the read, which completes (or the ring
            // is destroyed, cancelling it) before the deferred deallocate.
            let info = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.siginfoSize, alignment: 8)
            defer { info.deallocate() }
            info.initializeMemory(as: UInt8.self, repeating: 0)
            _ = cnet_uring_prep_read(ring, signalFD, info.baseAddress, UInt32(info.count), 1)
            _ = cnet_uring_submit(ring)
            ready.signal()
            _ = cnet_uring_submit_and_wait(ring, 1, UringRing.nanoseconds(UringRing.safetyTimeout))
            var first: UnsafePointer<cnet_uring_cqe>?
            let result = cnet_uring_peek(ring, &first) > 0 ? (first?.pointee.res ?? -1) : -ETIMEDOUT
            outcome.set((result, info.load(as: UInt32.self)))
        }
        XCTAssertEqual(ready.wait(timeout: .now() + 10), .success)
        let identity = try XCTUnwrap(loop.identity())
        XCTAssertEqual(pthread_kill(identity.pthread, SIGUSR2), 0)
        XCTAssertTrue(loop.join(), "the loop thread never saw its signal")
        let (result, signal) = try XCTUnwrap(outcome.value)
        XCTAssertEqual(result, Int32(Self.siginfoSize), ShimFailure.errnoName(Int(result)))
        XCTAssertEqual(signal, UInt32(SIGUSR2))
    }

    /// A CQ ring of 8 slots, 20 completions in rounds of 5: peek hands out
    /// contiguous runs, shorter than what is ready where the ring wraps, and
    /// every completion comes out once, in order.
    func testPeekHandsOutContiguousRunsAcrossTheWrap() throws {
        let ring = try UringRing(sqEntries: 8, cqEntries: 8)
        var seen: [UInt64] = []
        var sawWrap = false
        for round in 0..<4 {
            for index in 0..<5 { try ring.prep(cnet_uring_prep_nop(ring.handle, UInt64(round * 5 + index)), "nop") }
            XCTAssertEqual(cnet_uring_submit_and_wait(ring.handle, 5, UringRing.nanoseconds(.seconds(10))), 5)
            var left = 5
            while let batch = ring.peekBatch() {
                if batch.count < left { sawWrap = true }
                seen += batch.map(\.userData)
                left -= batch.count
                cnet_uring_cq_advance(ring.handle, UInt32(batch.count))
            }
        }
        XCTAssertEqual(seen, (0..<20).map(UInt64.init))
        XCTAssertTrue(sawWrap, "5-completion rounds on 8 slots must wrap")
    }

    /// More completions than the CQ ring holds: the kernel keeps the
    /// overflow (IORING_FEAT_NODROP) and the next wait flushes it; prep calls
    /// past the SQ's 8 entries submit by themselves.
    func testCompletionsBeyondTheCQSizeAreNotLost() throws {
        let ring = try UringRing(sqEntries: 8, cqEntries: 16)
        for index in 0..<100 { try ring.prep(cnet_uring_prep_nop(ring.handle, UInt64(index)), "nop \(index)") }
        XCTAssertLessThanOrEqual(cnet_uring_sq_pending(ring.handle), 8)
        var seen: [UInt64] = []
        let deadline = ContinuousClock.now + UringRing.safetyTimeout
        while seen.count < 100 && ContinuousClock.now < deadline {
            try ShimFailure.check(
                cnet_uring_submit_and_wait(ring.handle, 1, UringRing.nanoseconds(.seconds(1))), "submit_and_wait")
            seen += ring.reap().map(\.userData)
        }
        XCTAssertEqual(seen.sorted(), (0..<100).map(UInt64.init))
        XCTAssertEqual(seen, seen.sorted(), "overflowed completions keep their order")
    }
}

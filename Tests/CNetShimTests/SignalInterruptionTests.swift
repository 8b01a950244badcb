import CNetShim
import Glibc
import Synchronization
import XCTest

/// How many SIGUSR1s the test handler has seen; an atomic is lock-free and
/// so safe to touch from a signal handler.
let sigusr1Deliveries = Atomic<Int>(0)

final class SignalInterruptionTests: XCTestCase {
    /// A handler without SA_RESTART makes a blocked recv fail with EINTR;
    /// recv_all must retry and still return the whole message.
    func testSignalDuringBlockingRecvAllDoesNotAbortIt() throws {
        var previous = sigaction()
        try installCountingHandlerWithoutRestart(saving: &previous)
        defer { sigaction(SIGUSR1, &previous, nil) }

        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        let message = Array("arrives after three signals".utf8)
        let reader = pair.server
        let outcome = ResultBox<(result: Int, bytes: [UInt8])>()
        let thread = TestThread.start {
            let (result, _, bytes) = ShimIO.recvAll(reader, count: message.count)
            outcome.set((result, bytes))
        }
        let identity = try XCTUnwrap(thread.identity(), "reader thread did not start")

        for round in 1...3 {
            try waitUntilSleeping(identity.kernelThreadID)
            let before = sigusr1Deliveries.load(ordering: .sequentiallyConsistent)
            XCTAssertEqual(pthread_kill(identity.pthread, SIGUSR1), 0)
            try waitForDelivery(after: before)
            guard !thread.hasFinished else {
                XCTFail(
                    "recv_all returned after signal \(round): \(outcome.value.map { ShimFailure.errnoName($0.result) } ?? "?")"
                )
                return
            }
        }

        try waitUntilSleeping(identity.kernelThreadID)
        XCTAssertEqual(ShimIO.sendAll(pair.client, message).result, message.count)
        XCTAssertTrue(thread.join(), "reader did not finish")
        let read = try XCTUnwrap(outcome.value)
        XCTAssertEqual(read.result, message.count, "recv_all: \(ShimFailure.errnoName(read.result))")
        XCTAssertEqual(read.bytes, message)
    }

    /// No SA_RESTART on purpose: the kernel then hands EINTR to the blocked
    /// recv, which is exactly what recv_all has to absorb.
    private func installCountingHandlerWithoutRestart(saving previous: inout sigaction) throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            sigusr1Deliveries.add(1, ordering: .sequentiallyConsistent)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        if sigaction(SIGUSR1, &action, &previous) != 0 {
            throw ShimFailure(operation: "sigaction", code: Int(-errno))
        }
    }

    /// Polls (bounded) until the thread sleeps, i.e. is blocked in recv.
    private func waitUntilSleeping(_ kernelThreadID: Int32) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if TestThread.schedulerState(of: kernelThreadID) == "S" { return }
            usleep(1000)
        }
        XCTFail("thread \(kernelThreadID) never blocked")
        throw ShimFailure(operation: "wait for blocked thread", code: Int(-ETIMEDOUT))
    }

    /// Polls (bounded) until the handler has run once more.
    private func waitForDelivery(after count: Int) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if sigusr1Deliveries.load(ordering: .sequentiallyConsistent) > count { return }
            usleep(1000)
        }
        XCTFail("SIGUSR1 was not delivered")
        throw ShimFailure(operation: "wait for SIGUSR1", code: Int(-ETIMEDOUT))
    }
}

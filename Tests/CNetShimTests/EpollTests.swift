import CNetShim
import Glibc
import XCTest

/// cnet_epoll_*: registration with a caller token, waiting, and errors
/// that are -errno (never silently "no events").
final class EpollTests: XCTestCase {
    private var epoll: Int32 = -1

    override func setUpWithError() throws {
        epoll = try ShimFailure.check(cnet_epoll_create(), "cnet_epoll_create")
    }

    override func tearDown() {
        if epoll >= 0 { _ = cnet_close(epoll) }
    }

    /// Up to `max` events: (token, flags) pairs, or the -errno of the wait.
    private func wait(max: Int = 8, timeoutMilliseconds: Int32 = 0) -> (result: Int32, events: [(UInt64, UInt32)]) {
        var events = [epoll_event](repeating: epoll_event(), count: max)
        // Safe: the buffer holds `max` entries, passed as the maximum, and
        // the accessors read only the first `n` the kernel wrote.
        return events.withUnsafeMutableBufferPointer { buffer in
            let n = cnet_epoll_wait(epoll, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
            guard n > 0 else { return (n, []) }
            let ready = (0..<n).map {
                (cnet_epoll_event_token(buffer.baseAddress, $0), cnet_epoll_event_flags(buffer.baseAddress, $0))
            }
            return (n, ready)
        }
    }

    func testEpollDescriptorIsCloseOnExec() {
        XCTAssertNotEqual(ShimIO.descriptorFlags(epoll) & FD_CLOEXEC, 0)
    }

    /// The caller's 64-bit token comes back with the event bits.
    func testAddedDescriptorReportsReadinessWithItsToken() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        let token: UInt64 = 0xDEAD_BEEF_0000_0007
        XCTAssertEqual(cnet_epoll_add(epoll, pair.server, CNET_EV_READ, token), 0)
        XCTAssertEqual(wait().result, 0, "nothing to read yet")

        XCTAssertEqual(ShimIO.sendAll(pair.client, [1]).result, 1)
        let ready = wait(timeoutMilliseconds: LoopbackPair.safetyTimeoutMilliseconds)
        XCTAssertEqual(ready.result, 1)
        XCTAssertEqual(ready.events.first?.0, token)
        XCTAssertEqual((ready.events.first?.1 ?? 0) & CNET_EV_READ, CNET_EV_READ)
    }

    /// modify changes both the events and the token; remove stops events.
    func testModifyChangesEventsAndTokenAndRemoveStopsThem() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_epoll_add(epoll, pair.client, CNET_EV_READ, 1), 0)
        XCTAssertEqual(wait().result, 0, "not readable")

        XCTAssertEqual(cnet_epoll_modify(epoll, pair.client, CNET_EV_WRITE, 2), 0)
        let writable = wait()
        XCTAssertEqual(writable.result, 1)
        XCTAssertEqual(writable.events.first?.0, 2)
        XCTAssertEqual((writable.events.first?.1 ?? 0) & CNET_EV_WRITE, CNET_EV_WRITE)

        XCTAssertEqual(cnet_epoll_remove(epoll, pair.client), 0)
        XCTAssertEqual(wait().result, 0, "removed: no more events")
    }

    /// A peer that goes away shows as hang-up (with read: end of stream).
    func testPeerCloseReportsHangup() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_epoll_add(epoll, pair.server, CNET_EV_READ, 5), 0)
        pair.closeClient()
        let ready = wait(timeoutMilliseconds: LoopbackPair.safetyTimeoutMilliseconds)
        XCTAssertEqual(ready.result, 1)
        XCTAssertEqual((ready.events.first?.1 ?? 0) & CNET_EV_HANGUP, CNET_EV_HANGUP)
    }

    /// EPOLLEXCLUSIVE is accepted on add (a listener shared by loops).
    func testExclusiveRegistrationOfAListener() throws {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(cnet_tcp_listen_host("127.0.0.1", 0, 16, CNET_NONBLOCK, &port), "listen")
        defer { _ = cnet_close(listener) }
        XCTAssertEqual(cnet_epoll_add(epoll, listener, CNET_EV_READ | CNET_EV_EXCLUSIVE, 9), 0)
        let client = try ShimFailure.check(
            cnet_tcp_connect_host("127.0.0.1", port, LoopbackPair.safetyTimeoutMilliseconds, 0), "connect")
        defer { _ = cnet_close(client) }
        let ready = wait(timeoutMilliseconds: LoopbackPair.safetyTimeoutMilliseconds)
        XCTAssertEqual(ready.result, 1)
        XCTAssertEqual(ready.events.first?.0, 9)
    }

    /// Registration errors are -errno.
    func testRegistrationErrorsAreNegativeErrno() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_epoll_add(epoll, pair.client, CNET_EV_READ, 1), 0)
        XCTAssertEqual(cnet_epoll_add(epoll, pair.client, CNET_EV_READ, 1), -EEXIST)
        XCTAssertEqual(cnet_epoll_modify(epoll, pair.server, CNET_EV_READ, 1), -ENOENT)
        XCTAssertEqual(cnet_epoll_remove(epoll, pair.server), -ENOENT)
        XCTAssertEqual(cnet_epoll_add(-1, pair.client, CNET_EV_READ, 1), -EBADF)
        XCTAssertEqual(cnet_epoll_add(epoll, epoll, CNET_EV_READ, 1), -EINVAL, "an epoll cannot watch itself")
    }

    /// Any failure other than EINTR is -errno: a bad descriptor must not
    /// look like "0 events" (an event loop would spin on it).
    func testWaitOnBadDescriptorOrBadMaxIsNegativeErrno() throws {
        var events = [epoll_event](repeating: epoll_event(), count: 1)
        let notEpoll = try ShimFailure.check(cnet_eventfd_create(), "eventfd")
        defer { _ = cnet_close(notEpoll) }
        // Safe: one entry, and max says 1 (or 0, which the kernel rejects before writing).
        events.withUnsafeMutableBufferPointer { buffer in
            XCTAssertEqual(cnet_epoll_wait(-1, buffer.baseAddress, 1, 0), -EBADF)
            XCTAssertEqual(cnet_epoll_wait(notEpoll, buffer.baseAddress, 1, 0), -EINVAL)
            XCTAssertEqual(cnet_epoll_wait(epoll, buffer.baseAddress, 0, 0), -EINVAL)
        }
    }

    /// A timed wait with nothing ready returns 0 once the time is up.
    func testTimedWaitWithNothingReadyReturnsZero() {
        XCTAssertEqual(wait(timeoutMilliseconds: 20).result, 0)
    }

    /// A signal that interrupts the wait (EINTR) is "0 events", so the
    /// caller's loop simply goes round.
    func testInterruptedWaitReturnsZero() throws {
        var previous = sigaction()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: epoll_wait fails with EINTR
        XCTAssertEqual(sigaction(SIGUSR2, &action, &previous), 0)
        defer { sigaction(SIGUSR2, &previous, nil) }

        let epoll = self.epoll
        let outcome = ResultBox<Int32>()
        let thread = TestThread.start {
            var events = [epoll_event](repeating: epoll_event(), count: 1)
            // Safe: one entry, max 1. Nothing is registered: only the signal ends the wait.
            let n = events.withUnsafeMutableBufferPointer {
                cnet_epoll_wait(epoll, $0.baseAddress, 1, LoopbackPair.safetyTimeoutMilliseconds)
            }
            outcome.set(n)
        }
        let identity = try XCTUnwrap(thread.identity(), "waiter did not start")
        let deadline = ContinuousClock.now + .seconds(10)
        while !thread.hasFinished && ContinuousClock.now < deadline {
            // Signal until the wait returns: the first one may come before it blocks.
            if TestThread.schedulerState(of: identity.kernelThreadID) == "S" {
                XCTAssertEqual(pthread_kill(identity.pthread, SIGUSR2), 0)
            }
            usleep(5000)
        }
        XCTAssertTrue(thread.join(), "wait did not return")
        XCTAssertEqual(outcome.value, 0)
    }
}

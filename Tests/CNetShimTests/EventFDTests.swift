import CNetShim
import Glibc
import XCTest

/// cnet_eventfd_*: the loop waker.
final class EventFDTests: XCTestCase {
    func testEventFDIsNonBlockingAndCloseOnExec() throws {
        let fd = try ShimFailure.check(cnet_eventfd_create(), "cnet_eventfd_create")
        defer { _ = cnet_close(fd) }
        XCTAssertNotEqual(ShimIO.statusFlags(fd) & O_NONBLOCK, 0)
        XCTAssertNotEqual(ShimIO.descriptorFlags(fd) & FD_CLOEXEC, 0)
    }

    /// Signals add up; a drain returns the sum and resets it; an empty
    /// counter is -EAGAIN.
    func testSignalsAddUpAndDrainResetsTheCounter() throws {
        let fd = try ShimFailure.check(cnet_eventfd_create(), "cnet_eventfd_create")
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(cnet_eventfd_drain(fd), -Int64(EAGAIN))
        for _ in 0..<3 { XCTAssertEqual(cnet_eventfd_signal(fd), 0) }
        XCTAssertEqual(cnet_eventfd_drain(fd), 3)
        XCTAssertEqual(cnet_eventfd_drain(fd), -Int64(EAGAIN))
    }

    /// A signal makes the eventfd readable in an epoll: how a loop is woken.
    func testSignalWakesAnEpollWait() throws {
        let fd = try ShimFailure.check(cnet_eventfd_create(), "cnet_eventfd_create")
        defer { _ = cnet_close(fd) }
        let epoll = try ShimFailure.check(cnet_epoll_create(), "cnet_epoll_create")
        defer { _ = cnet_close(epoll) }
        XCTAssertEqual(cnet_epoll_add(epoll, fd, CNET_EV_READ, 42), 0)

        let waker = TestThread.start { _ = cnet_eventfd_signal(fd) }
        var events = [epoll_event](repeating: epoll_event(), count: 1)
        // Safe: one entry, max 1, and the token is read only when one event came.
        let token = events.withUnsafeMutableBufferPointer { buffer -> UInt64? in
            let n = cnet_epoll_wait(epoll, buffer.baseAddress, 1, LoopbackPair.safetyTimeoutMilliseconds)
            return n == 1 ? cnet_epoll_event_token(buffer.baseAddress, 0) : nil
        }
        XCTAssertTrue(waker.join())
        XCTAssertEqual(token, 42)
        XCTAssertEqual(cnet_eventfd_drain(fd), 1)
    }

    func testBadDescriptorIsNegativeErrno() {
        XCTAssertEqual(cnet_eventfd_signal(-1), -EBADF)
        XCTAssertEqual(cnet_eventfd_drain(-1), -Int64(EBADF))
    }
}

import CNetShim
import Foundation
import Glibc
import XCTest

/// cnet_signalfd_open / cnet_signalfd_read, and cnet_ignore_sigpipe.
///
/// Each signalfd case runs on a TestThread of its own: the signal mask it
/// changes is that thread's, and ends with it, so no other test sees a
/// blocked signal. SIGWINCH is used because its default action is to
/// ignore it: a mistake cannot kill the test process.
final class SignalFDTests: XCTestCase {
    /// Runs body on a fresh thread (bounded wait) and returns its result.
    private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> T {
        let box = ResultBox<T>()
        let thread = TestThread.start { box.set(body()) }
        XCTAssertTrue(thread.join(), "thread did not finish")
        return try XCTUnwrap(box.value)
    }

    private static func isBlocked(_ signal: Int32) -> Bool {
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        return sigismember(&current, signal) == 1
    }

    private static func open(_ signals: [Int32]) -> Int32 {
        // Safe: the pointer lives only for the call and the real count is passed.
        signals.withUnsafeBufferPointer { cnet_signalfd_open($0.baseAddress, Int32($0.count)) }
    }

    /// The signals are blocked and arrive as reads: the number, then
    /// -EAGAIN when none is pending.
    func testSignalArrivesAsARead() throws {
        struct Seen: Sendable {
            var fd: Int32 = -1
            var blocked = false
            var nonBlocking = false
            var closeOnExec = false
            var first: Int32 = 0
            var second: Int32 = 0
        }
        let seen = try onOwnThread { () -> Seen in
            var seen = Seen()
            seen.fd = SignalFDTests.open([SIGWINCH])
            guard seen.fd >= 0 else { return seen }
            defer { _ = cnet_close(seen.fd) }
            seen.blocked = SignalFDTests.isBlocked(SIGWINCH)
            seen.nonBlocking = ShimIO.statusFlags(seen.fd) & O_NONBLOCK != 0
            seen.closeOnExec = ShimIO.descriptorFlags(seen.fd) & FD_CLOEXEC != 0
            pthread_kill(pthread_self(), SIGWINCH)
            seen.first = cnet_signalfd_read(seen.fd)
            seen.second = cnet_signalfd_read(seen.fd)
            return seen
        }
        XCTAssertGreaterThanOrEqual(seen.fd, 0, "open: \(ShimFailure.errnoName(Int(seen.fd)))")
        XCTAssertTrue(seen.blocked, "SIGWINCH should be blocked once the fd exists")
        XCTAssertTrue(seen.nonBlocking)
        XCTAssertTrue(seen.closeOnExec)
        XCTAssertEqual(seen.first, SIGWINCH)
        XCTAssertEqual(seen.second, -EAGAIN)
    }

    /// Bad arguments are -EINVAL and leave the mask alone.
    func testBadArgumentsAreEINVALAndBlockNothing() throws {
        let outcome = try onOwnThread { () -> [Int32] in
            let results = [
                SignalFDTests.open([SIGWINCH, 0]),
                SignalFDTests.open([SIGWINCH, 4096]),
                cnet_signalfd_open(nil, 1),
                cnet_signalfd_open(nil, -1),
            ]
            return results + [SignalFDTests.isBlocked(SIGWINCH) ? 1 : 0]
        }
        XCTAssertEqual(Array(outcome.prefix(4)), [-EINVAL, -EINVAL, -EINVAL, -EINVAL])
        XCTAssertEqual(outcome.last, 0, "a failed open must not leave SIGWINCH blocked")
    }

    /// When signalfd itself fails (here: out of descriptors), no signal is
    /// left blocked, so SIGINT/SIGTERM would still stop the process.
    func testFailedSignalFDLeavesTheMaskAsItWas() throws {
        let outcome = try onOwnThread { () -> (Int32, Bool) in
            let rc = DescriptorExhaustion.whileExhausted { SignalFDTests.open([SIGWINCH, SIGINT]) }
            return (rc, SignalFDTests.isBlocked(SIGWINCH) || SignalFDTests.isBlocked(SIGINT))
        }
        XCTAssertEqual(outcome.0, -EMFILE, "got \(ShimFailure.errnoName(Int(outcome.0)))")
        XCTAssertFalse(outcome.1, "the mask changed although no signalfd was made")
    }

    func testReadErrors() throws {
        XCTAssertEqual(cnet_signalfd_read(-1), -EBADF)
        // A descriptor that yields fewer bytes than a signalfd_siginfo: -EIO.
        let eventfd = try ShimFailure.check(cnet_eventfd_create(), "eventfd")
        defer { _ = cnet_close(eventfd) }
        XCTAssertEqual(cnet_eventfd_signal(eventfd), 0)
        XCTAssertEqual(cnet_signalfd_read(eventfd), -EIO)
    }

    /// After cnet_ignore_sigpipe a write to a pipe nobody reads is EPIPE,
    /// not death. The old disposition is put back afterwards.
    func testIgnoreSigpipeMakesBrokenPipeWritesReturnEPIPE() throws {
        var previous = sigaction()
        XCTAssertEqual(sigaction(SIGPIPE, nil, &previous), 0)
        defer { sigaction(SIGPIPE, &previous, nil) }

        XCTAssertEqual(cnet_ignore_sigpipe(), 0)
        var now = sigaction()
        XCTAssertEqual(sigaction(SIGPIPE, nil, &now), 0)
        XCTAssertEqual(unsafeBitCast(now.__sigaction_handler.sa_handler, to: Int.self), 1, "SIG_IGN")

        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&ends), 0)
        Glibc.close(ends[0])
        defer { Glibc.close(ends[1]) }
        let byte: [UInt8] = [1]
        // Safe: one byte from a one-byte array.
        let written = byte.withUnsafeBytes { write(ends[1], $0.baseAddress, 1) }
        XCTAssertEqual(written, -1)
        XCTAssertEqual(errno, EPIPE)
    }
}

/// Runs a body while this process has no free descriptor: the soft limit is
/// lowered to just past the highest open descriptor and the holes below it
/// are filled, then everything is put back.
enum DescriptorExhaustion {
    static func whileExhausted<T>(_ body: () -> T) -> T {
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        let highest =
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [])
            .compactMap { Int32($0) }.max() ?? 2
        var lowered = saved
        lowered.rlim_cur = rlim_t(highest + 1)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered)
        var fillers: [Int32] = []
        while true {
            let fd = dup(0)
            if fd < 0 { break }
            fillers.append(fd)
        }
        let result = body()
        for fd in fillers { Glibc.close(fd) }
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        return result
    }
}

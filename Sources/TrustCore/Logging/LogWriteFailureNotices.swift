#if canImport(Glibc)
    import Glibc
#endif

/// Makes a failing log visible where someone looks when the log is what
/// broke: stderr. At most one line a minute while writes fail
///
///     log write failed: ENOSPC (No space left on device) on /srv/trust/logs/trustctl.log; dropping lines (12 so far)
///
/// and, after such a line, one when writes work again
///
///     log writes resumed on /srv/trust/logs/trustctl.log; 40 lines dropped in all
///
/// Used by the writer thread only.
struct LogWriteFailureNotices {
    static let intervalMs: Int64 = 60_000

    private var failures = LogRateLimiter(intervalMs: LogWriteFailureNotices.intervalMs)
    /// A failure line was printed and no recovery line since.
    private var failureAnnounced = false
    private let descriptor: Int32

    init(descriptor: Int32 = STDERR_FILENO) {
        self.descriptor = descriptor
    }

    mutating func writeFailed(_ errno: Errno, path: String, linesDropped: UInt64, now: Int64) {
        guard failures.allow(now: now).allowed else { return }
        failureAnnounced = true
        writeLine(
            "log write failed: \(errno.name) (\(errno.message)) on \(path); dropping lines (\(linesDropped) so far)")
    }

    mutating func writeSucceeded(path: String, linesDropped: UInt64) {
        guard failureAnnounced else { return }
        failureAnnounced = false
        writeLine("log writes resumed on \(path); \(linesDropped) lines dropped in all")
    }

    /// One `write` of the whole line, and only when it cannot block: stderr
    /// may be a pipe nobody reads, and the writer thread must not hang on
    /// it (shutdown waits for that thread). A line that would block is lost.
    private func writeLine(_ line: String) {
        var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        guard poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLOUT) != 0 else { return }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

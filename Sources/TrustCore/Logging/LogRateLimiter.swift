/// Bounds how often one repeated event is reported, so the volume stays
/// bounded when the condition repeats as fast as an attacker (or a full
/// disk) can make it: `accept_paused` when descriptors run out, the log
/// writer's `log write failed` line on stderr.
///
/// A fixed window: at most `eventsPerInterval` events pass in each
/// `intervalMs` milliseconds, starting at the first event that passes; the
/// rest are counted, and the next event that passes reports how many were
/// suppressed before it:
///
///     var acceptPausedLog = LogRateLimiter(intervalMs: 1000)   // one per repeated event
///     let (allowed, suppressed) = acceptPausedLog.allow(now: MonotonicClock.coarseMilliseconds())
///     if allowed {
///         logger.warning("accept_paused", metadata: ["suppressed": .stringConvertible(suppressed)])
///     }
///
/// A value type of plain integers for one thread (each event loop owns its
/// own): no lock, no allocation, no clock read of its own.
public struct LogRateLimiter: Sendable, BitwiseCopyable {
    public let intervalMs: Int64
    public let eventsPerInterval: Int

    /// When the current window started; `nil` before the first event.
    private var windowStart: Int64?
    private var passedInWindow = 0
    private var suppressed = 0

    /// - Parameters:
    ///   - intervalMs: the window length in milliseconds (at least 1).
    ///   - eventsPerInterval: how many events pass per window (at least 1).
    public init(intervalMs: Int64, eventsPerInterval: Int = 1) {
        self.intervalMs = max(1, intervalMs)
        self.eventsPerInterval = max(1, eventsPerInterval)
    }

    /// Whether to report an event that happens at `now`, a monotonic clock
    /// reading in milliseconds (`MonotonicClock.coarseMilliseconds()`).
    ///
    /// - Returns: `allowed`; and `suppressed`: when allowed, how many events
    ///   were suppressed since the last allowed one (the count then starts
    ///   again from zero); when not allowed, the running count including
    ///   this event.
    public mutating func allow(now: Int64) -> (allowed: Bool, suppressed: Int) {
        // A negative elapsed time only if the caller's clock went backwards:
        // start over. Overflow (readings far apart) means the window is over.
        if let start = windowStart, case (let elapsed, let overflow) = now.subtractingReportingOverflow(start),
            !overflow, elapsed >= 0, elapsed < intervalMs
        {
            if passedInWindow >= eventsPerInterval {
                suppressed += 1
                return (false, suppressed)
            }
        } else {
            windowStart = now
            passedInWindow = 0
        }
        passedInWindow += 1
        let reported = suppressed
        suppressed = 0
        return (true, reported)
    }
}

/// Bounds how often a repeated log event is written, per key, so log volume
/// stays bounded under attack (a flood of `accept_paused` or refused
/// connections).
///
/// A fixed window per key: at most `eventsPerInterval` events pass in each
/// `intervalNanoseconds`; the rest are counted, and the next event that
/// passes reports how many were suppressed before it:
///
///     let verdict = limiter.allow(key: "accept_paused", now: TrustLogging.monotonicNanoseconds())
///     if verdict.allowed {
///         logger.warning("accept_paused", metadata: ["suppressed": "\(verdict.suppressedSinceLast)"])
///     }
///
/// A value type for one thread (each event loop owns its own): no locks.
public struct LogRateLimiter<Key: Hashable> {
    public let eventsPerInterval: Int
    public let intervalNanoseconds: UInt64
    /// Most keys tracked at once; keeps memory bounded when keys come from
    /// the network (peers).
    public let maxKeys: Int
    /// Suppressed events no allowed event will report: those of keys evicted
    /// when their window expired, and those of new keys refused because the
    /// table was full of live windows.
    public private(set) var untrackedSuppressed = 0

    private struct Window {
        var start: UInt64
        var count: Int
        var suppressed: Int
    }

    private var windows: [Key: Window] = [:]

    public init(
        eventsPerInterval: Int = 1, intervalNanoseconds: UInt64 = 1_000_000_000, maxKeys: Int = 1024
    ) {
        self.eventsPerInterval = max(1, eventsPerInterval)
        self.intervalNanoseconds = max(1, intervalNanoseconds)
        self.maxKeys = max(1, maxKeys)
    }

    /// Whether to write an event for `key` at monotonic time `now`.
    ///
    /// - Returns: `allowed`; and `suppressedSinceLast`: when allowed, how many
    ///   events of this key were suppressed since the last allowed one (then
    ///   reset); when not allowed, the running count including this event.
    public mutating func allow(key: Key, now: UInt64) -> (allowed: Bool, suppressedSinceLast: Int) {
        guard var window = windows[key] else {
            return allowNewKey(key, now: now)
        }
        // `now < start` only if the caller's clock went backwards: start over.
        if now < window.start || now - window.start >= intervalNanoseconds {
            window.start = now
            window.count = 0
        }
        if window.count < eventsPerInterval {
            window.count += 1
            let suppressed = window.suppressed
            window.suppressed = 0
            windows[key] = window
            return (true, suppressed)
        }
        window.suppressed += 1
        windows[key] = window
        return (false, window.suppressed)
    }

    /// Number of keys currently tracked.
    public var trackedKeys: Int { windows.count }

    private mutating func allowNewKey(_ key: Key, now: UInt64) -> (
        allowed: Bool, suppressedSinceLast: Int
    ) {
        if windows.count >= maxKeys {
            evictExpiredWindows(now: now)
        }
        if windows.count >= maxKeys {
            untrackedSuppressed += 1
            return (false, 1)
        }
        windows[key] = Window(start: now, count: 1, suppressed: 0)
        return (true, 0)
    }

    private mutating func evictExpiredWindows(now: UInt64) {
        let interval = intervalNanoseconds
        var lostSuppressed = 0
        windows = windows.filter { _, window in
            let expired = now < window.start || now - window.start >= interval
            if expired { lostSuppressed += window.suppressed }
            return !expired
        }
        untrackedSuppressed += lostSuppressed
    }
}

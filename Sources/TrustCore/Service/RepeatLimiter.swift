/// At most one event per interval; counts what it held back so the next
/// allowed line can say how many were suppressed. Bounds log volume when a
/// condition repeats under attack.
struct RepeatLimiter {
    let intervalMs: Int64
    private var last: Int64 = .min
    private var suppressed = 0

    init(intervalMs: Int64) { self.intervalMs = intervalMs }

    mutating func allow(now: Int64) -> (allowed: Bool, suppressed: Int) {
        if last != .min && now - last < intervalMs {
            suppressed += 1
            return (false, suppressed)
        }
        let count = suppressed
        last = now
        suppressed = 0
        return (true, count)
    }
}

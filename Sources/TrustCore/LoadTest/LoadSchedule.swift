/// The time arithmetic of one load-test loop: the options' seconds and
/// rates turned into nanoseconds once, and the open-loop schedule.
///
/// Every conversion saturates. Validation bounds the options, but the
/// engine must not trap on any value it lets through: a rate of 1e-300/s
/// is a period of 1e309 s, which is no Int64; it means "not before the end
/// of time", so it becomes `LoadSchedule.never`, and a sum past the end of
/// time stays there.
struct LoadSchedule {
    /// A moment that never comes (also "no deadline").
    static let never = Int64.max

    /// A connect or round trip taking longer fails as `timeout`.
    let timeoutNs: Int64
    /// Duration mode: how long after the start new requests stop; `never`
    /// in count mode.
    let runNs: Int64
    /// Open loop: one slot's period between requests, in nanoseconds (0:
    /// closed loop). A Double, so slot phases below a nanosecond add up
    /// and a huge period stays representable until it is converted.
    let periodNs: Double
    /// At least this long between two connects of this loop (0: no pacing).
    let connectIntervalNs: Int64
    /// This loop's first slot across all loops, and all loops' slots: the
    /// phase of each slot's schedule.
    let firstSlot: Int
    let concurrency: Int

    init(options: LoadTestOptions, slots: Int, firstSlot: Int) {
        let concurrency = max(1, options.effectiveConcurrency)
        self.concurrency = concurrency
        self.firstSlot = firstSlot
        timeoutNs = LoadSchedule.nanoseconds(seconds: options.timeout)
        runNs = options.duration.map(LoadSchedule.nanoseconds(seconds:)) ?? LoadSchedule.never
        if let rate = options.rate {
            periodNs = Double(concurrency) / rate * 1e9
        } else {
            periodNs = 0
        }
        if let connectRate = options.connectRate {
            // This loop's share of the connection rate.
            let perLoop = connectRate * Double(slots) / Double(concurrency)
            connectIntervalNs = LoadSchedule.saturating(nanoseconds: 1e9 / perLoop)
        } else {
            connectIntervalNs = 0
        }
    }

    var isOpenLoop: Bool { periodNs > 0 }

    /// Open loop: slot g's k-th request is due at start + (k + g/C)·C/R.
    func due(slot: Int, request: Int64, start: Int64) -> Int64 {
        let phase = Double(firstSlot + slot) / Double(concurrency)
        let offset = (Double(request) + phase) * periodNs
        return LoadSchedule.adding(start, LoadSchedule.saturating(nanoseconds: offset))
    }

    /// `seconds` in nanoseconds, saturating: negative, zero and NaN give 0,
    /// anything past Int64 gives `never`.
    static func nanoseconds(seconds: Double) -> Int64 { saturating(nanoseconds: seconds * 1e9) }

    static func saturating(nanoseconds: Double) -> Int64 {
        // Also false for NaN (0 · ∞, ∞ − ∞).
        guard nanoseconds > 0 else { return 0 }
        // Double(Int64.max) rounds up to 2^63, which Int64 cannot hold.
        guard nanoseconds < Double(Int64.max) else { return never }
        return Int64(nanoseconds)
    }

    /// `a + b`, held at `never` instead of overflowing (both are times or
    /// durations, so neither is negative).
    @inline(__always)
    static func adding(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? never : sum
    }
}

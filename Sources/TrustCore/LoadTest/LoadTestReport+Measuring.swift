import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a run measured beside the tally: its wall-clock start, the
/// generator's own CPU, and its intervals.
public struct LoadRunInfo: Sendable {
    /// Seconds since the Unix epoch when the run started.
    public var startedAtUnix: Double = 0
    /// CPU time of the whole load-tester process during the run.
    public var userSeconds: Double = 0
    public var systemSeconds: Double = 0
    /// Event-loop threads the run used.
    public var loops = 1
    public var intervals: [LoadInterval] = []

    public init() {}

    /// The process's user and system CPU seconds so far (getrusage).
    static func cpuSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return (0, 0) }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }
}

extension LoadTestReport {
    /// Above this share of its threads' cores the generator is saturated.
    public static let saturationShare = 0.9
    /// The achieved rate may fall this far below --rate before it is reported.
    public static let behindScheduleShare = 0.05

    public var warmupSeconds: Double { options.measuring.warmup ?? 0 }

    /// The window the counts and rates cover: the wall time minus the warm-up.
    public var measuredSeconds: Double { max(wallSeconds - warmupSeconds, 0) }

    /// With --rate: latency from the actual send (nil without --rate or samples).
    public var uncorrectedLatency: LatencySummary? {
        guard options.rate != nil, tally.extra.uncorrected.count > 0 else { return nil }
        return tally.extra.uncorrected.summary
    }

    /// With --rate: round trips started per second in the measured window.
    public var achievedRate: Double? {
        guard options.rate != nil, measuredSeconds > 0 else { return nil }
        return Double(attempted + tally.cutShort) / measuredSeconds
    }

    /// With --rate: round trips the schedule had due in the measured window
    /// (in count mode never more than were planned).
    var scheduledRoundTrips: Double? {
        guard let rate = options.rate else { return nil }
        let due = rate * measuredSeconds
        guard let planned = LoadTestReport.plannedRoundTrips(of: options) else { return due }
        return min(due, Double(planned))
    }

    /// `generator fell behind the schedule: ...`, or nil: when fewer round
    /// trips started than the schedule had due, by more than 5 %.
    public var behindScheduleLine: String? {
        guard let rate = options.rate, let achieved = achievedRate, let due = scheduledRoundTrips, due > 0 else {
            return nil
        }
        let started = Double(attempted + tally.cutShort)
        guard started < due * (1 - Self.behindScheduleShare) else { return nil }
        let behind = (1 - started / due) * 100
        return
            "generator fell behind the schedule: \(Self.fixed(achieved, 1)) round trips/s achieved of \(Self.fixed(rate, 1)) scheduled (\(Self.fixed(behind, 1)) % behind); latency counts the delay from the schedule"
    }

    /// Round trips the generator's CPU time is divided by: all it ran,
    /// warm-up included.
    var roundTripsRun: Int { attempted + tally.extra.warmupDiscarded }

    /// Cores the generator kept busy on average (1.0: one core all the time).
    public var coresUsed: Double { wallSeconds > 0 ? (run.userSeconds + run.systemSeconds) / wallSeconds : 0 }

    /// Only for runs of half a second or more: shorter ones are mostly start-up.
    public var generatorSaturated: Bool {
        wallSeconds >= 0.5 && coresUsed > Self.saturationShare * Double(max(run.loops, 1))
    }

    public var saturationLine: String? {
        guard generatorSaturated else { return nil }
        return
            "generator saturated: it used \(Self.fixed(coresUsed * 100, 0)) % of a core across \(run.loops) thread(s) (over \(Self.fixed(Self.saturationShare * 100, 0)) % of its threads' cores); the figures are the generator's limit, not the server's"
    }

    func perRoundTripMicroseconds(_ seconds: Double) -> Double {
        roundTripsRun > 0 ? seconds * 1e6 / Double(roundTripsRun) : 0
    }

    static func latencyLine(_ l: LatencySummary, _ label: String) -> String {
        "\(label): p50 \(l.p50), p90 \(l.p90), p99 \(l.p99), p99.9 \(l.p999), max \(l.max)"
    }

    /// Summary lines for the measuring options, after the latency line.
    var measuringSummaryLines: [String] {
        var lines: [String] = []
        if let u = uncorrectedLatency {
            lines.append(Self.latencyLine(u, "latency us uncorrected (from actual sends)"))
        }
        if let behindScheduleLine { lines.append(behindScheduleLine) }
        if options.measuring.warmup != nil {
            lines.append(
                "warm-up: first \(Self.fixed(warmupSeconds, 3)) s not counted (\(tally.extra.warmupDiscarded) round trips discarded); rates over \(Self.fixed(measuredSeconds, 3)) s"
            )
        }
        lines.append(
            "generator CPU us per round trip: user \(Self.fixed(perRoundTripMicroseconds(run.userSeconds), 2)), system \(Self.fixed(perRoundTripMicroseconds(run.systemSeconds), 2)) (\(Self.fixed(coresUsed * 100, 0)) % of a core, \(run.loops) thread(s))"
        )
        if let saturationLine { lines.append(saturationLine) }
        return lines
    }

    static func latencyJSON(_ l: LatencySummary?) -> Any {
        guard let l else { return NSNull() }
        return [
            "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max, "min": l.min,
            "mean": rounded(l.mean, 1),
        ] as [String: Any]
    }

    /// The JSON fields of the measuring options (docs/load-testing.md).
    var measuringJSON: [String: Any] {
        func optional(_ value: (any Sendable)?) -> Any { value.map { $0 as Any } ?? NSNull() }
        var warnings: [String] = []
        if let behindScheduleLine { warnings.append(behindScheduleLine) }
        if let saturationLine { warnings.append(saturationLine) }
        return [
            "type": "final",
            "interval": optional(options.measuring.interval), "warmup": optional(options.measuring.warmup),
            "source_ip": optional(options.measuring.sourceAddresses?.addresses),
            "warmup_discarded": tally.extra.warmupDiscarded,
            "measured_time_s": Self.rounded(measuredSeconds, 3),
            "started_at_unix_s": Self.rounded(run.startedAtUnix, 3),
            "measure_start_unix_s": Self.rounded(run.startedAtUnix + warmupSeconds, 3),
            "ended_at_unix_s": Self.rounded(run.startedAtUnix + wallSeconds, 3),
            "latency_uncorrected_us": Self.latencyJSON(uncorrectedLatency),
            "latency_hdr": HdrHistogramCodec.encode(tally.latency),
            "latency_uncorrected_hdr": options.rate != nil
                ? HdrHistogramCodec.encode(tally.extra.uncorrected) : NSNull(),
            "achieved_rate_per_s": optional(achievedRate.map { Self.rounded($0, 1) }),
            "behind_schedule": optional(behindScheduleLine),
            "generator_cpu": [
                "user_s": Self.rounded(run.userSeconds, 3), "system_s": Self.rounded(run.systemSeconds, 3),
                "user_us_per_round_trip": Self.rounded(perRoundTripMicroseconds(run.userSeconds), 3),
                "system_us_per_round_trip": Self.rounded(perRoundTripMicroseconds(run.systemSeconds), 3),
                "cores_used": Self.rounded(coresUsed, 3), "threads": run.loops, "saturated": generatorSaturated,
            ] as [String: Any],
            "intervals": run.intervals.map(\.jsonObject),
            "warnings": warnings,
        ]
    }
}

extension LoadInterval {
    /// The human line of `--interval`.
    public var line: String {
        let f = LoadTestReport.fixed
        var text =
            "[\(f(startSeconds, 2))-\(f(endSeconds, 2)) s] \(f(roundTripsPerSecond, 1)) rt/s, \(ok) ok, \(failed) failed"
        text += ok > 0 ? ", p50 \(latency.p50) us, p99 \(latency.p99) us" : ", no latency"
        return text
    }

    /// One NDJSON object of `--json-stream` (docs/load-testing.md).
    public var json: String {
        guard let data = try? JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return "{}" }
        return text
    }

    var jsonObject: [String: Any] {
        [
            "type": "interval", "index": index, "start_s": LoadTestReport.rounded(startSeconds, 3),
            "end_s": LoadTestReport.rounded(endSeconds, 3), "ok": ok, "failed": failed,
            "round_trips_per_s": LoadTestReport.rounded(roundTripsPerSecond, 1),
            "latency_us": ok > 0 ? LoadTestReport.latencyJSON(latency) : NSNull(),
            "latency_uncorrected_us": ok > 0 ? LoadTestReport.latencyJSON(uncorrected) : NSNull(),
        ]
    }
}

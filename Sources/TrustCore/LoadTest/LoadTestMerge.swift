import Foundation

/// `echo-load-test merge FILE...`: the `--json` results of runs made at the
/// same time (on one or several machines) combined into one: counts summed,
/// histograms (the embedded `latency_hdr`) added bucket by bucket, which
/// loses nothing, rates summed, and the window the runs had in common.
public struct LoadTestMerge: Sendable {
    /// One input run, as its file gave it.
    public struct Run: Sendable {
        public var file: String
        public var host: String
        public var port: Int
        public var ok: Int
        public var failed: Int
        public var attempted: Int
        public var connectionsOpened: Int
        public var bytesSent: UInt64
        public var bytesReceived: UInt64
        public var warmupDiscarded: Int
        public var roundTripsPerSecond: Double
        public var measureStart: Double
        public var end: Double
        public var exitCode: Int
        public var latency: LatencyRecorder
        public var uncorrected: LatencyRecorder?
        /// `--interval` runs: each interval's Unix start and end and its ok.
        public var intervals: [(start: Double, end: Double, ok: Int)] = []

        /// Round trips/s within [from, to]: over the intervals that lie in
        /// it (1 ms slack for the rounding of times), nil if none does.
        func rate(from: Double, to: Double) -> Double? {
            let inside = intervals.filter { $0.start >= from - 0.001 && $0.end <= to + 0.001 && $0.end > $0.start }
            let seconds = inside.reduce(0) { $0 + ($1.end - $1.start) }
            guard seconds > 0 else { return nil }
            return Double(inside.reduce(0) { $0 + $1.ok }) / seconds
        }
    }

    public var runs: [Run] = []

    public init(files: [(name: String, contents: Data)]) throws(TrustError) {
        guard !files.isEmpty else { throw .usage("merge: expected one or more FILEs (--json results)") }
        for file in files { runs.append(try LoadTestMerge.read(file.name, file.contents)) }
    }

    static func read(_ name: String, _ data: Data) throws(TrustError) -> Run {
        func bad(_ why: String) -> TrustError { TrustError(kind: .dataMismatch, message: "merge: \(name): \(why)") }
        guard let any = try? JSONSerialization.jsonObject(with: data), let o = any as? [String: Any] else {
            throw bad("not a JSON object (expected the output of echo-load-test --json)")
        }
        func int(_ key: String) throws(TrustError) -> Int {
            guard let n = o[key] as? NSNumber else { throw bad("field \(key) missing or not a number") }
            return n.intValue
        }
        func double(_ key: String) throws(TrustError) -> Double {
            guard let n = o[key] as? NSNumber else { throw bad("field \(key) missing or not a number") }
            return n.doubleValue
        }
        guard let hdr = o["latency_hdr"] as? String else { throw bad("field latency_hdr missing") }
        let latency: LatencyRecorder
        var uncorrected: LatencyRecorder?
        do {
            latency = try HdrHistogramCodec.decode(hdr)
            if let u = o["latency_uncorrected_hdr"] as? String { uncorrected = try HdrHistogramCodec.decode(u) }
        } catch {
            throw bad("latency_hdr: \(error.message)")
        }
        var run = Run(
            file: name, host: o["host"] as? String ?? "", port: try int("port"), ok: try int("ok"),
            failed: try int("failed"), attempted: try int("attempted"),
            connectionsOpened: try int("connections_opened"),
            bytesSent: UInt64(max(0, try int("bytes_sent"))), bytesReceived: UInt64(max(0, try int("bytes_received"))),
            warmupDiscarded: try int("warmup_discarded"), roundTripsPerSecond: try double("round_trips_per_s"),
            measureStart: try double("measure_start_unix_s"), end: try double("ended_at_unix_s"),
            exitCode: try int("exit_code"), latency: latency, uncorrected: uncorrected)
        let started = try double("started_at_unix_s")
        for interval in o["intervals"] as? [[String: Any]] ?? [] {
            guard let start = (interval["start_s"] as? NSNumber)?.doubleValue,
                let end = (interval["end_s"] as? NSNumber)?.doubleValue,
                let ok = (interval["ok"] as? NSNumber)?.intValue
            else { throw bad("an interval without start_s, end_s or ok") }
            run.intervals.append((started + start, started + end, ok))
        }
        guard UInt64(run.ok) == latency.count else {
            throw bad("latency_hdr holds \(latency.count) samples but ok is \(run.ok)")
        }
        return run
    }

    public var ok: Int { runs.reduce(0) { $0 + $1.ok } }
    public var failed: Int { runs.reduce(0) { $0 + $1.failed } }
    public var attempted: Int { runs.reduce(0) { $0 + $1.attempted } }
    /// Each run's rate over the common window (from its intervals inside
    /// it), summed; runs without intervals in the window count with their
    /// whole measured window's rate.
    public var roundTripsPerSecond: Double {
        runs.reduce(0) { $0 + ($1.rate(from: windowStart, to: windowEnd) ?? $1.roundTripsPerSecond) }
    }

    /// `common_window` when every run's rate came from its intervals in the
    /// common window, else `whole_runs` (some or all from their own windows).
    public var rateBasis: String {
        runs.allSatisfy { $0.rate(from: windowStart, to: windowEnd) != nil } ? "common_window" : "whole_runs"
    }
    public var windowStart: Double { runs.map(\.measureStart).max() ?? 0 }
    public var windowEnd: Double { runs.map(\.end).min() ?? 0 }
    /// Seconds every run was measuring at once (0 if they did not overlap).
    public var commonWindow: Double { max(windowEnd - windowStart, 0) }
    /// The common window over the longest run's measured window.
    public var overlap: Double {
        let longest = runs.map { $0.end - $0.measureStart }.max() ?? 0
        return longest > 0 ? commonWindow / longest : 0
    }

    public var latency: LatencyRecorder {
        runs.reduce(into: LatencyRecorder()) { $0.add($1.latency) }
    }

    public var uncorrected: LatencyRecorder? {
        let parts = runs.compactMap(\.uncorrected)
        guard parts.count == runs.count else { return nil }
        return parts.reduce(into: LatencyRecorder()) { $0.add($1) }
    }

    /// The first run's failing exit code, 0 when all succeeded.
    public var exitCode: Int { runs.first { $0.exitCode != 0 }?.exitCode ?? 0 }

    public var overlapWarning: String? {
        guard runs.count > 1, overlap < 0.9 else { return nil }
        return
            "runs overlapped for only \(LoadTestReport.fixed(overlap * 100, 0)) % of the longest: the summed rate assumes they ran at the same time"
    }

    public var summary: String {
        let f = LoadTestReport.fixed
        var lines = [
            "\(ok)/\(attempted) ok, \(failed) failed",
            "runs merged: \(runs.count)",
            "round trips/s: \(f(roundTripsPerSecond, 1)) (sum of the runs' rates, \(rateBasis == "common_window" ? "over the common window" : "each over its own run"))",
            "common window s: \(f(commonWindow, 3))",
        ]
        let l = latency
        if l.count > 0 {
            lines.append(LoadTestReport.latencyLine(l.summary, "latency us"))
        } else {
            lines.append("latency: no successful round trip")
        }
        if let u = uncorrected, u.count > 0 {
            lines.append(LoadTestReport.latencyLine(u.summary, "latency us uncorrected (from actual sends)"))
        }
        if let overlapWarning { lines.append(overlapWarning) }
        for (i, run) in runs.enumerated() {
            lines.append(
                "run \(i + 1): \(run.file): \(run.ok)/\(run.attempted) ok, \(f(run.roundTripsPerSecond, 1)) round trips/s, p99 \(run.latency.summary.p99) us"
            )
        }
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let l = latency
        let runObjects: [[String: Any]] = runs.map { run in
            [
                "file": run.file, "host": run.host, "port": run.port, "ok": run.ok, "failed": run.failed,
                "attempted": run.attempted, "round_trips_per_s": run.roundTripsPerSecond,
                "measure_start_unix_s": run.measureStart, "ended_at_unix_s": run.end, "exit_code": run.exitCode,
                "latency_us": LoadTestReport.latencyJSON(run.latency.count > 0 ? run.latency.summary : nil),
            ]
        }
        let object: [String: Any] = [
            "type": "merged", "runs": runObjects, "ok": ok, "failed": failed, "attempted": attempted,
            "connections_opened": runs.reduce(0) { $0 + $1.connectionsOpened },
            "bytes_sent": runs.reduce(UInt64(0)) { $0 &+ $1.bytesSent },
            "bytes_received": runs.reduce(UInt64(0)) { $0 &+ $1.bytesReceived },
            "warmup_discarded": runs.reduce(0) { $0 + $1.warmupDiscarded },
            "round_trips_per_s": LoadTestReport.rounded(roundTripsPerSecond, 1), "rate_basis": rateBasis,
            "window_start_unix_s": windowStart, "window_end_unix_s": windowEnd,
            "common_window_s": LoadTestReport.rounded(commonWindow, 3),
            "overlap": LoadTestReport.rounded(overlap, 3),
            "latency_us": LoadTestReport.latencyJSON(l.count > 0 ? l.summary : nil),
            "latency_hdr": HdrHistogramCodec.encode(l),
            "latency_uncorrected_us": LoadTestReport.latencyJSON(
                uncorrected.flatMap { $0.count > 0 ? $0.summary : nil }),
            "warnings": overlapWarning.map { [$0] } ?? [],
            "exit_code": exitCode,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return "{}" }
        return text
    }
}

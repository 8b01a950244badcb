import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What one event loop counted; the loops' tallies are summed at the end.
public struct LoadTestTally: Sendable {
    /// Round trips whose echo was complete and equal to what was sent.
    public var ok = 0
    /// Round trips not verified: the one that failed and, when a failure
    /// ends a session early, the rest of that session's planned messages.
    public var failed = 0
    /// Failure events by kind (each ends one connection).
    public var failures: [LoadFailureKind: Int] = [:]
    public var firstFailure: LoadFailure?
    /// Connections established.
    public var connections = 0
    /// Round trips under way when a signal stopped the run: neither
    /// verified nor failed, because they were never finished.
    public var cutShort = 0
    /// --reconnect: connections the server ended before answering that
    /// were opened again, and the round trips among them sent again.
    public var reconnects = 0
    public var resent = 0
    /// The signal that stopped the run early, nil if it ran to its end.
    public var interruptedBy: Int32?
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var latency = LatencyRecorder()
    /// `--tls`: handshakes, apart from the round trips (LoadTestReport+TLS.swift).
    public var tls = LoadTLSTally()
    /// Warm-up and uncorrected latency (LoadTestEngine+Measuring.swift).
    public var extra = LoadTallyExtra()

    public init() {}

    mutating func add(_ other: LoadTestTally) {
        ok += other.ok
        failed += other.failed
        for (kind, count) in other.failures { failures[kind, default: 0] += count }
        if firstFailure == nil { firstFailure = other.firstFailure }
        connections += other.connections
        cutShort += other.cutShort
        reconnects += other.reconnects
        resent += other.resent
        if interruptedBy == nil { interruptedBy = other.interruptedBy }
        bytesSent &+= other.bytesSent
        bytesReceived &+= other.bytesReceived
        latency.add(other.latency)
        tls.add(other.tls)
        extra.add(other.extra)
    }
}

/// The outcome of a load test: the summary on stdout, the JSON object of
/// `--json`, and the exit code.
public struct LoadTestReport: Sendable {
    public var options: LoadTestOptions
    public var tally: LoadTestTally
    public var wallSeconds: Double
    /// The backend the loops ran on.
    public var backend: IOBackend
    /// Start time, generator CPU, intervals (LoadTestReport+Measuring.swift).
    public var run = LoadRunInfo()

    public init(options: LoadTestOptions, tally: LoadTestTally, wallSeconds: Double, backend: IOBackend = .epoll) {
        self.options = options
        self.tally = tally
        self.wallSeconds = wallSeconds
        self.backend = backend
    }

    public var ok: Int { tally.ok }
    public var failed: Int { tally.failed }
    public var attempted: Int { tally.ok + tally.failed }
    public func failures(_ kind: LoadFailureKind) -> Int { tally.failures[kind, default: 0] }
    /// Connections that ended in a failure, all kinds together.
    public var connectionsFailed: Int { tally.failures.values.reduce(0, +) }
    /// nil when no round trip succeeded: there is no latency to report.
    public var latency: LatencySummary? { tally.latency.count > 0 ? tally.latency.summary : nil }
    public var interruptedBy: Int32? { tally.interruptedBy }

    /// Count mode: the round trips the run promised (clients × messages,
    /// held at Int.max rather than overflowing); nil with a duration.
    public static func plannedRoundTrips(of options: LoadTestOptions) -> Int? {
        guard options.duration == nil else { return nil }
        let (planned, overflow) = options.clients.multipliedReportingOverflow(by: options.messages)
        return overflow ? Int.max : planned
    }

    /// Count mode, after an interruption: planned round trips never
    /// started (nil with a duration, or when the run was not interrupted).
    public var notRun: Int? {
        guard interruptedBy != nil, let planned = LoadTestReport.plannedRoundTrips(of: options) else { return nil }
        return max(0, planned - attempted - tally.cutShort)
    }

    /// The exit code of the run: 128 + signal when a signal stopped it,
    /// else 0 only if every round trip was verified, else the code of the
    /// first failure's kind.
    public var exitCode: Int32 {
        if let signal = interruptedBy { return 128 + signal }
        return exitStatus.rawValue
    }

    /// 0 only if every round trip was verified; otherwise the code of the
    /// first failure's kind (an interruption aside: see `exitCode`).
    public var exitStatus: ExitStatus {
        if let first = tally.firstFailure { return first.exitStatus }
        return tally.failed == 0 ? .success : .software
    }

    /// The one stderr line of a failed run, nil when it succeeded.
    public var failureLine: String? {
        guard failed > 0 || tally.firstFailure != nil else { return nil }
        let first = tally.firstFailure.map { "; first: \($0.kind.rawValue): \($0.message)" } ?? ""
        return "\(failed) of \(attempted) round trips failed\(first)"
    }

    public var roundTripsPerSecond: Double { measuredSeconds > 0 ? Double(tally.ok) / measuredSeconds : 0 }

    /// Verified payload bytes per second, one direction, in MB (10^6 B):
    /// what the application moved. Frame headers are not counted; the same
    /// amount went the other way.
    public var payloadMegabytesPerSecond: Double {
        measuredSeconds > 0 ? Double(tally.ok) * Double(options.payloadSize) / measuredSeconds / 1e6 : 0
    }

    /// Every byte on the wire, both directions, frame headers included, MB/s.
    public var wireMegabytesPerSecond: Double {
        let bytes = (tally.bytesSent &+ tally.bytesReceived) &- tally.extra.warmupBytes
        return measuredSeconds > 0 ? Double(bytes) / measuredSeconds / 1e6 : 0
    }

    /// `refused 2, timeout 1`: the kinds that occurred, or `none`.
    var connectionFailuresByKind: String {
        let kinds = LoadFailureKind.allCases.filter { failures($0) > 0 }.map { "\($0.rawValue) \(failures($0))" }
        return kinds.isEmpty ? "none" : kinds.joined(separator: ", ")
    }

    /// What an interruption left unmeasured, for the summary.
    var interruptionLine: String? {
        guard let signal = interruptedBy else { return nil }
        var line = "interrupted by \(SignalEvents.name(signal)) after \(LoadTestReport.fixed(wallSeconds, 3)) s"
        line += ": partial results; \(tally.cutShort) round trips cut short"
        if let notRun { line += ", \(notRun) planned not run" }
        return line
    }

    /// The human summary; its first line is `OK/ATTEMPTED ok, FAILED failed`,
    /// where both counts are round trips. Connection failures, each of
    /// which may cost several round trips, are counted apart, by kind.
    public var summary: String {
        var lines = ["\(ok)/\(attempted) ok, \(failed) failed"]
        if let interruptionLine { lines.append(interruptionLine) }
        lines += [
            "round trips failed: \(failed); connections failed by kind: \(connectionFailuresByKind)",
            "connections opened: \(tally.connections)"
                + (options.reconnect
                    ? "; reopened after the server ended them: \(tally.reconnects) (round trips sent again: \(tally.resent))"
                    : ""),
            "round trips/s: \(LoadTestReport.fixed(roundTripsPerSecond, 1))",
            "MB/s: \(LoadTestReport.fixed(payloadMegabytesPerSecond, 3)) payload each way, \(LoadTestReport.fixed(wireMegabytesPerSecond, 3)) on the wire (both ways, headers included)",
        ]
        if let l = latency {
            let origin = options.rate != nil ? " (from scheduled send times)" : ""
            lines.append(
                "latency us: p50 \(l.p50), p90 \(l.p90), p99 \(l.p99), p99.9 \(l.p999), max \(l.max)\(origin)")
        } else {
            lines.append("latency: no successful round trip")
        }
        lines += tlsSummaryLines
        lines += measuringSummaryLines
        lines.append("wall time s: \(LoadTestReport.fixed(wallSeconds, 3))")
        return lines.joined(separator: "\n")
    }

    /// One JSON object: the results and every input parameter. The field
    /// names and their meaning are in docs/load-testing.md.
    public var json: String {
        func optional(_ value: (any Sendable)?) -> Any { value.map { $0 as Any } ?? NSNull() }
        var byKind: [String: Any] = [:]
        for kind in LoadFailureKind.allCases { byKind[kind.rawValue] = failures(kind) }
        var object: [String: Any] = [
            "host": options.host, "port": Int(options.port), "clients": options.clients,
            "messages": options.messages, "concurrency": options.concurrency, "payload_size": options.payloadSize,
            "mode": options.mode.rawValue, "duration": optional(options.duration), "rate": optional(options.rate),
            "connect_rate": optional(options.connectRate), "timeout": options.timeout, "threads": options.threads,
            "ok": ok, "failed": failed, "attempted": attempted,
            "planned": optional(LoadTestReport.plannedRoundTrips(of: options)),
            "connections_failed_by_kind": byKind, "connections_failed": connectionsFailed,
            "connections_opened": tally.connections, "bytes_sent": tally.bytesSent,
            "proxy_protocol": optional(options.proxyHeader?.rawValue), "reconnect": options.reconnect,
            "io": backend.rawValue,
            "reconnects": tally.reconnects, "resent": tally.resent,
            "bytes_received": tally.bytesReceived,
            "round_trips_per_s": LoadTestReport.rounded(roundTripsPerSecond, 1),
            "payload_mb_per_s": LoadTestReport.rounded(payloadMegabytesPerSecond, 3),
            "wire_mb_per_s": LoadTestReport.rounded(wireMegabytesPerSecond, 3),
            "latency_us": latency.map { l -> Any in
                [
                    "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max, "min": l.min,
                    "mean": LoadTestReport.rounded(l.mean, 1),
                ]
            } ?? NSNull(),
            "wall_time_s": LoadTestReport.rounded(wallSeconds, 3),
            "interrupted_by": optional(interruptedBy.map(SignalEvents.name)),
            "cut_short": tally.cutShort, "not_run": optional(notRun),
            "exit_code": Int(exitCode),
        ]
        if let tls = tlsJSON { object["tls"] = tls }
        object.merge(measuringJSON) { old, _ in old }
        if let first = tally.firstFailure {
            object["first_failure"] = ["kind": first.kind.rawValue, "message": first.message]
        } else {
            object["first_failure"] = NSNull()
        }
        guard
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return "{}" }
        return text
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    static func rounded(_ value: Double, _ digits: Int) -> Double {
        let scale = pow(10, Double(digits))
        return (value * scale).rounded() / scale
    }
}

extension LoadTestReport {
    /// The error a failed run ends with: the one stderr line and, through
    /// its kind and errno, the exit code of the first failure's kind, or
    /// 128 + signal when a signal stopped the run. nil when every round
    /// trip was verified.
    public var error: TrustError? {
        if let signal = interruptedBy {
            return .interrupted(
                signal: signal,
                message: "interrupted by \(SignalEvents.name(signal)); the summary covers what was measured")
        }
        guard let line = failureLine else { return nil }
        guard let first = tally.firstFailure else { return TrustError(kind: .internal, message: line) }
        switch first.kind {
        case .mismatch: return TrustError(kind: .dataMismatch, message: line)
        case .closedEarly, .reset: return TrustError(kind: .closedEarly, message: line, errno: first.errno)
        case .refused:
            return TrustError(kind: .system, message: line, errno: first.errno ?? .connectionRefused)
        case .timeout: return TrustError(kind: .system, message: line, errno: .timedOut)
        case .other:
            return first.errno.map { TrustError(kind: .system, message: line, errno: $0) }
                ?? TrustError(kind: .internal, message: line)
        }
    }
}

import Foundation

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
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var latency = LatencyRecorder()

    public init() {}

    mutating func add(_ other: LoadTestTally) {
        ok += other.ok
        failed += other.failed
        for (kind, count) in other.failures { failures[kind, default: 0] += count }
        if firstFailure == nil { firstFailure = other.firstFailure }
        connections += other.connections
        bytesSent &+= other.bytesSent
        bytesReceived &+= other.bytesReceived
        latency.add(other.latency)
    }
}

/// The outcome of a load test: the summary on stdout, the JSON object of
/// `--json`, and the exit code.
public struct LoadTestReport: Sendable {
    public var options: LoadTestOptions
    public var tally: LoadTestTally
    public var wallSeconds: Double

    public init(options: LoadTestOptions, tally: LoadTestTally, wallSeconds: Double) {
        self.options = options
        self.tally = tally
        self.wallSeconds = wallSeconds
    }

    public var ok: Int { tally.ok }
    public var failed: Int { tally.failed }
    public var attempted: Int { tally.ok + tally.failed }
    public func failures(_ kind: LoadFailureKind) -> Int { tally.failures[kind, default: 0] }
    public var latency: LatencySummary { tally.latency.summary }

    /// 0 only if every round trip was verified; otherwise the code of the
    /// first failure's kind.
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

    public var roundTripsPerSecond: Double { wallSeconds > 0 ? Double(tally.ok) / wallSeconds : 0 }

    /// Verified payload bytes per second, one direction, in MB (10^6 B):
    /// what the application moved. Frame headers are not counted; the same
    /// amount went the other way.
    public var payloadMegabytesPerSecond: Double {
        wallSeconds > 0 ? Double(tally.ok) * Double(options.payloadSize) / wallSeconds / 1e6 : 0
    }

    /// Every byte on the wire, both directions, frame headers included, MB/s.
    public var wireMegabytesPerSecond: Double {
        wallSeconds > 0 ? Double(tally.bytesSent &+ tally.bytesReceived) / wallSeconds / 1e6 : 0
    }

    /// The human summary; its first line is `OK/ATTEMPTED ok, FAILED failed`.
    public var summary: String {
        let l = latency
        let kinds = LoadFailureKind.allCases.map { "\($0.rawValue) \(failures($0))" }.joined(separator: ", ")
        return """
            \(ok)/\(attempted) ok, \(failed) failed
            errors: \(kinds)
            connections: \(tally.connections)
            round trips/s: \(LoadTestReport.fixed(roundTripsPerSecond, 1))
            MB/s: \(LoadTestReport.fixed(payloadMegabytesPerSecond, 3)) payload each way, \(LoadTestReport.fixed(wireMegabytesPerSecond, 3)) on the wire (both ways, headers included)
            latency us: p50 \(l.p50), p90 \(l.p90), p99 \(l.p99), p99.9 \(l.p999), max \(l.max)\(options.rate != nil ? " (from scheduled send times)" : "")
            wall time s: \(LoadTestReport.fixed(wallSeconds, 3))
            """
    }

    /// One JSON object: the results and every input parameter.
    public var json: String {
        func optional(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
        var errors: [String: Any] = [:]
        for kind in LoadFailureKind.allCases { errors[kind.rawValue] = failures(kind) }
        let l = latency
        var object: [String: Any] = [
            "host": options.host, "port": Int(options.port), "clients": options.clients,
            "messages": options.messages, "concurrency": options.concurrency, "payload_size": options.payloadSize,
            "mode": options.mode.rawValue, "duration": optional(options.duration), "rate": optional(options.rate),
            "connect_rate": optional(options.connectRate), "timeout": options.timeout, "threads": options.threads,
            "ok": ok, "failed": failed, "attempted": attempted, "errors": errors,
            "connections": tally.connections, "bytes_sent": tally.bytesSent, "bytes_received": tally.bytesReceived,
            "round_trips_per_s": LoadTestReport.rounded(roundTripsPerSecond, 1),
            "payload_mb_per_s": LoadTestReport.rounded(payloadMegabytesPerSecond, 3),
            "wire_mb_per_s": LoadTestReport.rounded(wireMegabytesPerSecond, 3),
            "latency_us": [
                "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max, "min": l.min,
                "mean": LoadTestReport.rounded(l.mean, 1),
            ],
            "wall_time_s": LoadTestReport.rounded(wallSeconds, 3),
            "exit_code": Int(exitStatus.rawValue),
        ]
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
    /// its kind and errno, the exit code of the first failure's kind.
    /// nil when every round trip was verified.
    public var error: TrustError? {
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

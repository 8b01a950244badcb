import Foundation

/// What `--tls` measured, apart from the round trips: handshakes completed
/// (and how many resumed a session), failed, and how long each took from
/// the TCP connect to the handshake's end (microseconds).
public struct LoadTLSTally: Sendable {
    public var handshakes = 0
    public var resumed = 0
    public var failures = 0
    public var handshakeTime = LatencyRecorder()

    public init() {}

    mutating func add(_ other: LoadTLSTally) {
        handshakes += other.handshakes
        resumed += other.resumed
        failures += other.failures
        handshakeTime.add(other.handshakeTime)
    }
}

extension LoadTestReport {
    /// Completed handshakes per second of the run (a key TLS figure).
    public var handshakesPerSecond: Double { wallSeconds > 0 ? Double(tally.tls.handshakes) / wallSeconds : 0 }

    /// The summary's TLS lines (none without --tls).
    var tlsSummaryLines: [String] {
        guard options.tls != nil else { return [] }
        let t = tally.tls
        var lines = [
            "tls handshakes: \(t.handshakes) (\(t.resumed) resumed), \(t.failures) failed, "
                + "\(LoadTestReport.fixed(handshakesPerSecond, 1))/s"
        ]
        if t.handshakeTime.count > 0 {
            let l = t.handshakeTime.summary
            lines.append("tls handshake us: p50 \(l.p50), p90 \(l.p90), p99 \(l.p99), p99.9 \(l.p999), max \(l.max)")
        }
        return lines
    }

    /// The JSON's `tls` object (inputs and results), nil without --tls.
    var tlsJSON: [String: Any]? {
        guard let options = options.tls else { return nil }
        let t = tally.tls
        var object: [String: Any] = [
            "ca_file": options.caFile.map { $0 as Any } ?? NSNull(), "insecure": options.insecure,
            "sni": options.serverName.map { $0 as Any } ?? NSNull(), "resume": self.options.tlsResume,
            "handshakes": t.handshakes, "resumed": t.resumed, "handshake_failures": t.failures,
            "handshakes_per_s": LoadTestReport.rounded(handshakesPerSecond, 1),
        ]
        if t.handshakeTime.count > 0 {
            let l = t.handshakeTime.summary
            object["handshake_us"] = [
                "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max, "min": l.min,
                "mean": LoadTestReport.rounded(l.mean, 1),
            ]
        } else {
            object["handshake_us"] = NSNull()
        }
        return object
    }
}

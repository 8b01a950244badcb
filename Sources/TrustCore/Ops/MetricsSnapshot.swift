/// The server's counters at one moment, summed over its workers: what `/metrics` shows.
///
/// Each worker keeps its own plain counters (no shared atomic on the echo path); a scrape
/// takes one snapshot per worker and adds them with `+=`. Labelled families are maps from
/// the label value (a close reason, a refusal reason) to its count; put every known label
/// value in, with 0 when it has not happened, so that each series exists from the first
/// scrape (Prometheus's advice: a series that appears late hides its first increase).
public struct MetricsSnapshot: Sendable, Hashable {
    public var connectionsAccepted: UInt64 = 0
    /// Connections open now (a gauge: summed, never reset).
    public var connectionsActive: UInt64 = 0
    /// Connections closed at once without being served, by reason (`max_clients`,
    /// `proxy_untrusted`, ...).
    public var connectionsRefused: [String: UInt64] = [:]
    /// Served connections that ended, by reason (`peer_closed`, `idle_timeout`, `drain`, ...).
    public var connectionsClosed: [String: UInt64] = [:]
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var framesReceived: UInt64 = 0
    public var framesSent: UInt64 = 0
    /// Times accepting was paused (descriptor exhaustion, max clients).
    public var acceptPauses: UInt64 = 0
    public var udpDatagramsReceived: UInt64 = 0
    public var udpDatagramsSent: UInt64 = 0
    /// UDP datagrams not echoed, by reason (`too_large`, `send_failed`, ...).
    public var udpDatagramsDropped: [String: UInt64] = [:]
    /// Log lines the rate limiter or a full log writer dropped.
    public var logLinesDropped: UInt64 = 0
    public var tlsHandshakes: UInt64 = 0
    public var tlsHandshakeFailures: UInt64 = 0

    public init() {}

    /// Adds another worker's snapshot to this one.
    public static func += (total: inout MetricsSnapshot, worker: MetricsSnapshot) {
        total.connectionsAccepted &+= worker.connectionsAccepted
        total.connectionsActive &+= worker.connectionsActive
        total.connectionsRefused.merge(worker.connectionsRefused, uniquingKeysWith: &+)
        total.connectionsClosed.merge(worker.connectionsClosed, uniquingKeysWith: &+)
        total.bytesReceived &+= worker.bytesReceived
        total.bytesSent &+= worker.bytesSent
        total.framesReceived &+= worker.framesReceived
        total.framesSent &+= worker.framesSent
        total.acceptPauses &+= worker.acceptPauses
        total.udpDatagramsReceived &+= worker.udpDatagramsReceived
        total.udpDatagramsSent &+= worker.udpDatagramsSent
        total.udpDatagramsDropped.merge(worker.udpDatagramsDropped, uniquingKeysWith: &+)
        total.logLinesDropped &+= worker.logLinesDropped
        total.tlsHandshakes &+= worker.tlsHandshakes
        total.tlsHandshakeFailures &+= worker.tlsHandshakeFailures
    }
}

/// What `trustctl_build_info` says: the version and any other fixed facts as labels.
public struct BuildInfo: Sendable, Hashable {
    public var version: String
    /// More labels, in order (`io_backend`, `swift_version`, ...).
    public var labels: [(name: String, value: String)]

    public init(version: String, labels: [(name: String, value: String)] = []) {
        self.version = version
        self.labels = labels
    }

    public static func == (lhs: BuildInfo, rhs: BuildInfo) -> Bool {
        lhs.version == rhs.version && lhs.labels.elementsEqual(rhs.labels) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(version)
        for label in labels {
            hasher.combine(label.name)
            hasher.combine(label.value)
        }
    }
}

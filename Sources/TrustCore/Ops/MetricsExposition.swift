/// Renders a `MetricsSnapshot` as `/metrics` text. The families, in a fixed order (diffs of
/// two scrapes line up), are listed in `families`; docs/operations.md lists the same.
public enum MetricsExposition {
    public struct Family: Sendable, Hashable {
        public let name: String
        public let type: PrometheusTextWriter.MetricType
        public let help: String
        /// The label of a labelled family (`reason`), nil for a single series.
        public let label: String?
    }

    public static let buildInfo = Family(
        name: "trustctl_build_info", type: .gauge, help: "Always 1; the labels say which build is running.",
        label: nil)
    public static let startTime = Family(
        name: "trustctl_start_time_seconds", type: .gauge,
        help: "When the server started, in seconds since the Unix epoch.",
        label: nil)
    public static let connectionsAccepted = Family(
        name: "trustctl_connections_accepted_total", type: .counter, help: "TCP connections accepted.", label: nil)
    public static let connectionsActive = Family(
        name: "trustctl_connections_active", type: .gauge, help: "TCP connections open now.", label: nil)
    public static let connectionsRefused = Family(
        name: "trustctl_connections_refused_total", type: .counter,
        help: "TCP connections closed at once without being served, by reason.", label: "reason")
    public static let connectionsClosed = Family(
        name: "trustctl_connections_closed_total", type: .counter,
        help: "Served TCP connections that ended, by reason.",
        label: "reason")
    public static let receivedBytes = Family(
        name: "trustctl_received_bytes_total", type: .counter, help: "Payload bytes received on TCP connections.",
        label: nil)
    public static let sentBytes = Family(
        name: "trustctl_sent_bytes_total", type: .counter, help: "Payload bytes sent on TCP connections.", label: nil)
    public static let framesReceived = Family(
        name: "trustctl_frames_received_total", type: .counter, help: "Complete frames received (framed mode).",
        label: nil)
    public static let framesSent = Family(
        name: "trustctl_frames_sent_total", type: .counter, help: "Complete frames sent (framed mode).", label: nil)
    public static let acceptPauses = Family(
        name: "trustctl_accept_pauses_total", type: .counter,
        help: "Times accepting paused (descriptor exhaustion or the client limit).", label: nil)
    public static let udpDatagramsReceived = Family(
        name: "trustctl_udp_datagrams_received_total", type: .counter, help: "UDP datagrams received.", label: nil)
    public static let udpDatagramsSent = Family(
        name: "trustctl_udp_datagrams_sent_total", type: .counter, help: "UDP datagrams echoed.", label: nil)
    public static let udpDatagramsDropped = Family(
        name: "trustctl_udp_datagrams_dropped_total", type: .counter, help: "UDP datagrams not echoed, by reason.",
        label: "reason")
    public static let logLinesDropped = Family(
        name: "trustctl_log_lines_dropped_total", type: .counter,
        help: "Log lines dropped by the rate limiter or a full log writer.", label: nil)
    public static let tlsHandshakes = Family(
        name: "trustctl_tls_handshakes_total", type: .counter, help: "TLS handshakes completed.", label: nil)
    public static let tlsHandshakeFailures = Family(
        name: "trustctl_tls_handshake_failures_total", type: .counter, help: "TLS handshakes that failed.", label: nil)

    public static let families: [Family] = [
        buildInfo, startTime, connectionsAccepted, connectionsActive, connectionsRefused, connectionsClosed,
        receivedBytes, sentBytes, framesReceived, framesSent, acceptPauses, udpDatagramsReceived, udpDatagramsSent,
        udpDatagramsDropped, logLinesDropped, tlsHandshakes, tlsHandshakeFailures,
    ]

    /// The exposition text for `snapshot`. `startTime` is omitted when nil.
    public static func render(_ snapshot: MetricsSnapshot, build: BuildInfo, startTime: Double? = nil) -> [UInt8] {
        var writer = PrometheusTextWriter()
        write(buildInfo, into: &writer)
        writer.sample(buildInfo.name, labels: [("version", build.version)] + build.labels, value: UInt64(1))
        if let startTime {
            write(self.startTime, into: &writer)
            writer.sample(self.startTime.name, value: startTime)
        }
        single(connectionsAccepted, snapshot.connectionsAccepted, into: &writer)
        single(connectionsActive, snapshot.connectionsActive, into: &writer)
        labelled(connectionsRefused, snapshot.connectionsRefused, into: &writer)
        labelled(connectionsClosed, snapshot.connectionsClosed, into: &writer)
        single(receivedBytes, snapshot.bytesReceived, into: &writer)
        single(sentBytes, snapshot.bytesSent, into: &writer)
        single(framesReceived, snapshot.framesReceived, into: &writer)
        single(framesSent, snapshot.framesSent, into: &writer)
        single(acceptPauses, snapshot.acceptPauses, into: &writer)
        single(udpDatagramsReceived, snapshot.udpDatagramsReceived, into: &writer)
        single(udpDatagramsSent, snapshot.udpDatagramsSent, into: &writer)
        labelled(udpDatagramsDropped, snapshot.udpDatagramsDropped, into: &writer)
        single(logLinesDropped, snapshot.logLinesDropped, into: &writer)
        single(tlsHandshakes, snapshot.tlsHandshakes, into: &writer)
        single(tlsHandshakeFailures, snapshot.tlsHandshakeFailures, into: &writer)
        return writer.bytes
    }

    private static func write(_ family: Family, into writer: inout PrometheusTextWriter) {
        writer.family(family.name, type: family.type, help: family.help)
    }

    private static func single(_ family: Family, _ value: UInt64, into writer: inout PrometheusTextWriter) {
        write(family, into: &writer)
        writer.sample(family.name, value: value)
    }

    /// A labelled family, its series sorted by label value; HELP and TYPE even when empty.
    private static func labelled(
        _ family: Family, _ values: [String: UInt64], into writer: inout PrometheusTextWriter
    ) {
        write(family, into: &writer)
        guard let label = family.label else { return }
        for (value, count) in values.sorted(by: { $0.key < $1.key }) {
            writer.sample(family.name, labels: [(label, value)], value: count)
        }
    }
}

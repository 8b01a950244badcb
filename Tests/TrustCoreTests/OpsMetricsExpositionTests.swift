import Foundation
import XCTest

@testable import TrustCore

final class OpsMetricsExpositionTests: XCTestCase {
    private func snapshot(seed: UInt64) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.connectionsAccepted = seed &* 3
        snapshot.connectionsActive = seed % 7
        snapshot.connectionsRefused = ["max_clients": seed, "proxy_header_invalid": 2]
        snapshot.connectionsClosed = ["peer_closed": seed &* 2, "idle_timeout": 1, "drain": 0]
        snapshot.bytesReceived = UInt64.max - seed
        snapshot.bytesSent = seed << 20
        snapshot.framesReceived = seed + 11
        snapshot.framesSent = seed + 12
        snapshot.acceptPauses = seed + 13
        snapshot.udpDatagramsReceived = seed + 14
        snapshot.udpDatagramsSent = seed + 15
        snapshot.udpDatagramsDropped = ["too_large": seed + 16]
        snapshot.logLinesDropped = seed + 17
        snapshot.tlsHandshakes = seed + 18
        snapshot.tlsHandshakeFailures = seed + 19
        return snapshot
    }

    func testWorkerSnapshotsAddUp() {
        var total = MetricsSnapshot()
        total += snapshot(seed: 5)
        total += snapshot(seed: 7)
        XCTAssertEqual(total.connectionsAccepted, 36)
        XCTAssertEqual(total.connectionsActive, 5 + 0)
        XCTAssertEqual(total.connectionsRefused, ["max_clients": 12, "proxy_header_invalid": 4])
        XCTAssertEqual(total.connectionsClosed, ["peer_closed": 24, "idle_timeout": 2, "drain": 0])
        XCTAssertEqual(
            total.bytesReceived, (UInt64.max - 5) &+ (UInt64.max - 7), "counters wrap like the per-worker ones")
        XCTAssertEqual(total.udpDatagramsDropped, ["too_large": 44])
        XCTAssertEqual(total.tlsHandshakeFailures, 24 + 26)
    }

    func testRenderedTextIsExactForASmallSnapshot() {
        var small = MetricsSnapshot()
        small.connectionsAccepted = 4
        small.connectionsClosed = ["peer_closed": 3, "idle_timeout": 1]
        let text = String(
            decoding: MetricsExposition.render(small, build: BuildInfo(version: "1.2.3"), startTime: 1_700_000_000.5),
            as: UTF8.self)
        XCTAssertTrue(
            text.hasPrefix(
                """
                # HELP trustctl_build_info Always 1; the labels say which build is running.
                # TYPE trustctl_build_info gauge
                trustctl_build_info{version="1.2.3"} 1
                # HELP trustctl_start_time_seconds When the server started, in seconds since the Unix epoch.
                # TYPE trustctl_start_time_seconds gauge
                trustctl_start_time_seconds 1700000000.5
                # HELP trustctl_connections_accepted_total TCP connections accepted.
                # TYPE trustctl_connections_accepted_total counter
                trustctl_connections_accepted_total 4

                """), text)
        XCTAssertTrue(
            text.contains(
                """
                # TYPE trustctl_connections_closed_total counter
                trustctl_connections_closed_total{reason="idle_timeout"} 1
                trustctl_connections_closed_total{reason="peer_closed"} 3
                # HELP trustctl_received_bytes_total
                """), "labelled series sorted by value:\n\(text)")
        XCTAssertTrue(
            text.contains("# TYPE trustctl_connections_refused_total counter\n# HELP"),
            "an empty labelled family keeps its HELP and TYPE")
        XCTAssertTrue(text.hasSuffix("trustctl_tls_handshake_failures_total 0\n"))
    }

    func testEscapingOfHelpAndLabelValues() {
        var writer = PrometheusTextWriter()
        writer.family("x_total", type: .counter, help: "back\\slash and\nnewline \"quotes\" stay")
        writer.sample("x_total", labels: [("a", "q\"b\\n\nl"), ("b", "caf\u{e9} \u{1F600}")], value: UInt64(2))
        writer.sample("y", value: Double.nan)
        writer.sample("y", value: -Double.infinity)
        XCTAssertEqual(
            String(decoding: writer.bytes, as: UTF8.self),
            "# HELP x_total back\\\\slash and\\nnewline \"quotes\" stay\n# TYPE x_total counter\n"
                + "x_total{a=\"q\\\"b\\\\n\\nl\",b=\"caf\u{e9} \u{1F600}\"} 2\ny NaN\ny -Inf\n")
        XCTAssertTrue(PrometheusTextWriter.isValidMetricName("trustctl:rate_5m"))
        XCTAssertFalse(PrometheusTextWriter.isValidMetricName("9lives"))
        XCTAssertFalse(PrometheusTextWriter.isValidMetricName("a-b"))
        XCTAssertFalse(PrometheusTextWriter.isValidMetricName(""))
        XCTAssertTrue(PrometheusTextWriter.isValidLabelName("reason"))
        XCTAssertFalse(PrometheusTextWriter.isValidLabelName("__name__"))
        XCTAssertFalse(PrometheusTextWriter.isValidLabelName("a:b"))
        for family in MetricsExposition.families {
            XCTAssertTrue(PrometheusTextWriter.isValidMetricName(family.name), family.name)
            XCTAssertEqual(family.type == .counter, family.name.hasSuffix("_total"), family.name)
        }
    }

    /// prometheus_client's own text parser (from PyPI, installed by .ci/run) reads our output
    /// back: every family, type, help text, label and value, escapes included.
    func testPrometheusClientParserReadsTheExposition() throws {
        var snapshot = snapshot(seed: 1_000_003)
        snapshot.connectionsClosed["odd \"reason\"\\\nwith newline"] = 9
        let build = BuildInfo(version: "0.9.0-dev+\"x\"", labels: [("io_backend", "epoll")])
        let text = MetricsExposition.render(snapshot, build: build, startTime: 1_733_000_000.25)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            text = open(sys.argv[1], encoding='utf-8').read()
            out = []
            for family in text_string_to_metric_families(text):
                out.append({'name': family.name, 'type': family.type, 'help': family.documentation,
                            'samples': [[s.name, s.labels, repr(s.value)] for s in family.samples]})
            print(json.dumps(out))
            """
        let output = try PythonRunner.run(script: script, files: [text])
        struct ParsedFamily: Decodable {
            let name: String
            let type: String
            let help: String
            let samples: [[Sample]]
        }
        enum Sample: Decodable {
            case text(String)
            case labels([String: String])
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .text(text)
                } else {
                    self = .labels(try container.decode([String: String].self))
                }
            }
        }
        let families = try JSONDecoder().decode([ParsedFamily].self, from: Data(output.utf8))
        XCTAssertEqual(families.count, MetricsExposition.families.count)
        for (parsed, expected) in zip(families, MetricsExposition.families) {
            // The parser names a counter family without its _total suffix.
            let familyName = expected.type == .counter ? String(expected.name.dropLast(6)) : expected.name
            XCTAssertEqual(parsed.name, familyName)
            XCTAssertEqual(parsed.type, expected.type.rawValue, expected.name)
            XCTAssertEqual(parsed.help, expected.help, expected.name)
        }
        func samples(_ name: String) -> [(String, [String: String], String)] {
            guard let family = families.first(where: { $0.name == name }) else { return [] }
            return family.samples.map { parts in
                guard case .text(let sampleName) = parts[0], case .labels(let labels) = parts[1],
                    case .text(let value) = parts[2]
                else { return ("?", [:], "?") }
                return (sampleName, labels, value)
            }
        }
        let buildSamples = samples("trustctl_build_info")
        XCTAssertEqual(buildSamples.first?.1, ["version": "0.9.0-dev+\"x\"", "io_backend": "epoll"])
        XCTAssertEqual(buildSamples.first?.2, "1")
        XCTAssertEqual(samples("trustctl_start_time_seconds").first?.2, "1733000000.25")
        XCTAssertEqual(samples("trustctl_connections_accepted").first?.0, "trustctl_connections_accepted_total")
        XCTAssertEqual(samples("trustctl_connections_accepted").first?.2, "3000009")
        let closed = samples("trustctl_connections_closed")
        XCTAssertEqual(
            closed.map { $0.1["reason"] ?? "" },
            ["drain", "idle_timeout", "odd \"reason\"\\\nwith newline", "peer_closed"])
        XCTAssertEqual(closed.map(\.2), ["0", "1", "9", "2000006"])
        XCTAssertEqual(samples("trustctl_connections_refused").count, 2)
        // Integer text stays an exact integer, even near 2^64.
        XCTAssertEqual(samples("trustctl_received_bytes").first?.2, "\(UInt64.max - 1_000_003)")
        XCTAssertEqual(samples("trustctl_udp_datagrams_dropped").first?.1, ["reason": "too_large"])
    }

    /// docs/operations.md lists every family the endpoint serves.
    func testOperationsDocListsEveryMetric() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        for family in MetricsExposition.families {
            XCTAssertTrue(doc.contains("`\(family.name)"), "docs/operations.md does not list \(family.name)")
        }
    }
}

import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `--metrics-port`: /metrics, /healthz and /readyz served by the real
/// binary (SPEC §13), scraped with Python's urllib and read back with
/// prometheus_client's parser, on whichever IO backend TRUST_ECHO_IO picks.
final class MetricsEndpointTests: XCTestCase {
    /// A server with its metrics endpoint on a free port, and that port (from `server_started`).
    private func startServerWithMetrics(_ options: [String] = []) throws -> (EchoServerUnderTest, UInt16) {
        let server = try startEchoServer(["--metrics-port", "0"] + options)
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        XCTAssertEqual(started.string("metrics_host"), "127.0.0.1")
        let port = try XCTUnwrap(started.integer("metrics_port"), "\(started)")
        XCTAssertNotEqual(port, 0)
        return (server, UInt16(port))
    }

    /// GET http://127.0.0.1:PORT/metrics with urllib, parsed by prometheus_client:
    /// `sample name{label="value"}` → value, plus `__status__` and `__content_type__`.
    private func scrape(_ port: UInt16) throws -> [String: Double] {
        let script = """
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            with urllib.request.urlopen('http://127.0.0.1:%s/metrics' % sys.argv[1], timeout=10) as reply:
                text = reply.read().decode('utf-8')
                status = reply.status
                ctype = reply.headers['Content-Type']
            out = {'__status__': status}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    labels = ','.join('%s="%s"' % kv for kv in sorted(s.labels.items()))
                    out[s.name + ('{' + labels + '}' if labels else '')] = s.value
            out['__content_type__'] = ctype
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(port)]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw TestSocketError("scrape failed: \(errorText)") }
        XCTAssertEqual(object["__content_type__"] as? String, "text/plain; version=0.0.4; charset=utf-8")
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// One raw request on its own connection; the whole response as text.
    private func request(_ port: UInt16, _ bytes: [UInt8]) throws -> String {
        let socket = try TestSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(bytes)
        return String(decoding: try socket.receiveToEnd(), as: UTF8.self)
    }

    private func statusLine(_ response: String) -> String {
        // Not `prefix { $0 != "\r" }`: CR LF is a single Character.
        response.components(separatedBy: "\r\n").first ?? ""
    }

    func testScrapeCountsExactlyWhatALoadTestSent() throws {
        let (server, metricsPort) = try startServerWithMetrics(["--mode", "framed"])
        let before = try scrape(metricsPort)
        XCTAssertEqual(before["__status__"], 200)
        XCTAssertEqual(before["trustctl_connections_accepted_total"], 0)
        // Every known close reason is a series from the first scrape on.
        for reason in ["peer_closed", "idle_timeout", "send_timeout", "reset", "shutdown", "error", "frame_too_large"] {
            XCTAssertEqual(before["trustctl_connections_closed_total{reason=\"\(reason)\"}"], 0, reason)
        }
        XCTAssertEqual(before["trustctl_connections_refused_total{reason=\"max_clients\"}"], 0)

        let clients = 40
        let messages = 300
        let payload = 100
        let load = try startTrustctl(
            [
                "echo-load-test", "--host", "127.0.0.1", "--port", String(server.port), "--clients", String(clients),
                "--messages", String(messages), "--concurrency", "8", "--payload-size", String(payload),
            ], environment: server.environment.variables)
        // Scrapes while the load runs: answered, and never ahead of the final count.
        var during: [[String: Double]] = []
        repeat {
            during.append(try scrape(metricsPort))
        } while load.isRunning && during.count < 20
        XCTAssertEqual(try load.waitForExit(timeout: 60), 0, load.stderr)
        XCTAssertFalse(during.isEmpty)

        let wireBytes = Double(clients * messages * (payload + 4))
        var after: [String: Double] = [:]
        waitUntil(timeout: 10) {
            after = (try? self.scrape(metricsPort)) ?? [:]
            return after["trustctl_connections_closed_total{reason=\"peer_closed\"}"] == Double(clients)
        }
        XCTAssertEqual(after["trustctl_connections_accepted_total"], Double(clients))
        XCTAssertEqual(after["trustctl_connections_active"], 0)
        XCTAssertEqual(after["trustctl_connections_closed_total{reason=\"peer_closed\"}"], Double(clients))
        for reason in ["idle_timeout", "reset", "shutdown", "error", "frame_too_large"] {
            XCTAssertEqual(after["trustctl_connections_closed_total{reason=\"\(reason)\"}"], 0, reason)
        }
        XCTAssertEqual(after["trustctl_received_bytes_total"], wireBytes)
        XCTAssertEqual(after["trustctl_sent_bytes_total"], wireBytes)
        XCTAssertEqual(after["trustctl_frames_received_total"], Double(clients * messages))
        XCTAssertEqual(after["trustctl_frames_sent_total"], Double(clients * messages))
        XCTAssertEqual(after["trustctl_log_lines_dropped_total"], 0)
        for sample in during {
            XCTAssertEqual(sample["__status__"], 200)
            XCTAssertLessThanOrEqual(sample["trustctl_received_bytes_total"] ?? .infinity, wireBytes)
            XCTAssertLessThanOrEqual(sample["trustctl_connections_accepted_total"] ?? .infinity, Double(clients))
        }
        XCTAssertEqual(try server.stop(), 0, server.process.stderr)
        // The log's own totals agree with what the endpoint said.
        let stopped = try XCTUnwrap(server.log.entries(event: "server_stopped").first)
        XCTAssertEqual(stopped.integer("bytes_in"), Int(wireBytes))
        XCTAssertEqual(stopped.integer("connections"), clients)
    }

    func testHealthAndReadinessAndErrors() throws {
        let (_, port) = try startServerWithMetrics()
        let health = try request(port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        XCTAssertEqual(statusLine(health), "HTTP/1.1 200 OK")
        XCTAssertTrue(health.contains("\r\nConnection: close\r\n"), health)
        XCTAssertTrue(health.hasSuffix("\r\n\r\nok\n"), health)
        XCTAssertEqual(statusLine(try request(port, Array("GET /readyz HTTP/1.0\r\n\r\n".utf8))), "HTTP/1.1 200 OK")
        XCTAssertEqual(
            statusLine(try request(port, Array("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n".utf8))),
            "HTTP/1.1 404 Not Found")
        XCTAssertEqual(
            statusLine(try request(port, Array("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))),
            "HTTP/1.1 405 Method Not Allowed")
        XCTAssertEqual(
            statusLine(try request(port, Array("\u{1}\u{2}garbage\r\n\r\n".utf8))), "HTTP/1.1 400 Bad Request")
        XCTAssertEqual(
            statusLine(try request(port, Array("GET /metrics HTTP/1.1\r\n\r\n".utf8))), "HTTP/1.1 400 Bad Request",
            "HTTP/1.1 without Host")
        // A head past 8 KiB: 431, and the response arrives whole although the
        // client had sent more than the server read.
        let oversized =
            Array("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ".utf8) + Array(repeating: 0x61, count: 20_000)
        let tooLarge = try request(port, oversized)
        XCTAssertEqual(statusLine(tooLarge), "HTTP/1.1 431 Request Header Fields Too Large")
        XCTAssertTrue(tooLarge.hasSuffix("request header fields too large\n"), tooLarge)
        // HEAD: the headers a GET would get, no body.
        let head = try request(port, Array("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK") && head.hasSuffix("\r\n\r\n"), head)
    }

    func testRequestSplitIntoSingleBytesIsServed() throws {
        let (_, port) = try startServerWithMetrics()
        let socket = try TestSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        for byte in Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8) {
            try socket.send([byte])
            usleep(1_000)
        }
        XCTAssertEqual(statusLine(String(decoding: try socket.receiveToEnd(), as: UTF8.self)), "HTTP/1.1 200 OK")
    }

    func testSlowClientGets408AtTheHeaderTimeout() throws {
        let (_, port) = try startServerWithMetrics()
        let socket = try TestSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8))  // never the empty line
        let started = Date()
        let response = String(decoding: try socket.receiveToEnd(), as: UTF8.self)
        XCTAssertEqual(statusLine(response), "HTTP/1.1 408 Request Timeout")
        // The 5 s bound, not an early close (not a timing assertion on speed).
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 4.5)
    }

    func testScrapeLimitClosesTheSeventeenthAndEchoIsUnaffected() throws {
        let (server, port) = try startServerWithMetrics(["--mode", "raw"])
        // 16 scrapers that send nothing hold every slot.
        var holders: [TestSocket] = []
        defer { for holder in holders { holder.close() } }
        for _ in 0..<16 { holders.append(try TestSocket(host: "127.0.0.1", port: port)) }
        // The 17th connection is closed at once without a response.
        let extra = try TestSocket(host: "127.0.0.1", port: port)
        defer { extra.close() }
        XCTAssertEqual(try extra.receiveToEnd(), [])
        // The echo port does not wait on the ops endpoint.
        let client = try server.connect()
        defer { client.close() }
        try client.echoRaw(Array("still echoing\n".utf8))
        // Freeing one slot lets the next scrape through.
        holders.removeFirst().close()
        var served = false
        waitUntil(timeout: 10) {
            served = (try? self.scrape(port))?["__status__"] == 200
            return served
        }
        XCTAssertTrue(served)
    }

    func testReadyzIs503WhileTheDrainRuns() throws {
        let (server, port) = try startServerWithMetrics(["--mode", "raw", "--drain-timeout", "30"])
        let readyz = Array("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        XCTAssertEqual(statusLine(try request(port, readyz)), "HTTP/1.1 200 OK")
        // A client that reads nothing keeps echoes pending, so the drain lasts.
        let client = try server.connect()
        let sender = BackgroundSender(socket: client, total: 256 << 20, seed: 3)
        defer { sender.finish() }
        sender.waitUntilStalled()
        server.process.sendSignal(SIGTERM)
        XCTAssertNotNil(server.log.waitForEntry(event: "server_stopping"))
        XCTAssertTrue(server.process.isRunning, "the drain should still be waiting for the client")
        let draining = try request(port, readyz)
        XCTAssertEqual(statusLine(draining), "HTTP/1.1 503 Service Unavailable")
        XCTAssertTrue(draining.hasSuffix("draining\n"), draining)
        XCTAssertEqual(
            statusLine(try request(port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))),
            "HTTP/1.1 200 OK", "alive while draining")
        let metrics = try scrape(port)
        XCTAssertEqual(metrics["trustctl_connections_active"], 1)
        sender.finish()
        client.closeWithReset()
        XCTAssertEqual(try server.process.waitForExit(timeout: 30), 0, server.process.stderr)
    }

    func testMetricsPortIsOffByDefaultAndTakesOff() throws {
        let server = try startEchoServer()
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        XCTAssertNil(started.integer("metrics_port"))
        let explicit = try startEchoServer(["--metrics-port", "off"])
        XCTAssertNil(try XCTUnwrap(explicit.log.waitForEntry(event: "server_started")).integer("metrics_port"))
    }

    func testBadMetricsPortAndBusyPort() throws {
        let environment = try makeTrustctlEnvironment()
        let bad = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--metrics-port", "70000"], environment: environment.variables)
        assertOneLineFailure(bad, exitCode: 64, containing: ["--metrics-port"])
        // The metrics port already taken: one stderr line, and the echo port is not served.
        let (_, taken) = try startServerWithMetrics()
        let busy = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--host", "127.0.0.1", "--metrics-port", String(taken)],
            environment: environment.variables)
        XCTAssertNotEqual(busy.exitCode, 0)
        assertOneLineFailure(busy, exitCode: busy.exitCode, containing: ["127.0.0.1:\(taken)"])
        XCTAssertEqual(busy.stdout, "", "no ready line")
    }
}

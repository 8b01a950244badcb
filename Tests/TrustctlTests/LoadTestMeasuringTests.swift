import CNetShim
import Foundation
import XCTest

#if canImport(FoundationXML)
    import FoundationXML
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Black-box tests of echo-load-test's options for measuring real systems
/// (SPEC §8): the built binary against a real server on --port 0, and the
/// results read back by independent readers (Python's `hdrh` for the HDR
/// log, `jsonschema` for the NDJSON stream, an XML parser for the SVG).
final class LoadTestMeasuringTests: XCTestCase {
    private var env: TrustctlTestEnvironment!
    private var directory: URL!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
        directory = env.directory
    }

    private func loadTest(_ arguments: [String], timeout: Double = 60) throws -> TrustctlResult {
        try TrustctlProcess.run(["echo-load-test"] + arguments, environment: env.variables, timeout: timeout)
    }

    private func target(_ server: EchoServerUnderTest) -> [String] {
        ["--host", "127.0.0.1", "--port", "\(server.port)"]
    }

    private func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    private func latency(_ object: [String: Any], _ key: String = "latency_us") throws -> [String: Int] {
        let l = try XCTUnwrap(object[key] as? [String: Any], "\(key) in \(object)")
        return l.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// Runs a Python script with arguments; its stdout parsed as JSON.
    private func python(_ script: String, _ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, errorText)
        return try object(String(decoding: data, as: UTF8.self))
    }

    /// Reads an interval log with hdrh's own reader; the sum of its
    /// intervals' percentiles both as hdrh computes them and with
    /// HdrHistogram's (Java, Swift) rank rule, ceil(p/100 x count).
    private static let readLog = """
        import sys, json, math
        from hdrh.histogram import HdrHistogram
        from hdrh.log import HistogramLogReader
        files = sys.argv[1:]
        total = HdrHistogram(1, 3600000000, 3)
        lines = 0
        for f in files:
            reader = HistogramLogReader(f, HdrHistogram(1, 3600000000, 3))
            while reader.add_next_interval_histogram(total) is not None:
                lines += 1
        n = total.get_total_count()
        def at(p):
            rank = max(1, math.ceil(p / 100.0 * n - 1e-9))
            seen = 0
            for item in total.get_recorded_iterator():
                seen += item.count_at_value_iterated_to
                if seen >= rank:
                    return min(item.value_iterated_to, total.get_max_value())
            return 0
        out = {"lines": lines, "count": n, "max": total.get_max_value(), "min": total.get_min_value()}
        for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9)):
            out[name] = at(p)
            out["hdrh_" + name] = total.get_value_at_percentile(p)
        print(json.dumps(out))
        """

    // MARK: - 1. HDR histogram

    func testHdrOutIsReadByHdrhWithTheSummarysPercentiles() throws {
        let server = try startEchoServer(["--workers", "1"])
        let log = directory.appendingPathComponent("run.hdr").path
        let result = try loadTest(
            target(server) + [
                "--clients", "20", "--messages", "100", "--concurrency", "4", "--hdr-out", log, "--json",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let run = try object(result.stdout)
        let ours = try latency(run)
        let read = try python(Self.readLog, [log])
        XCTAssertEqual(read["lines"] as? Int, 1, "one line without --interval")
        XCTAssertEqual(read["count"] as? Int, 2000)
        for key in ["p50", "p90", "p99", "p99_9", "max", "min"] {
            XCTAssertEqual(read[key] as? Int, ours[key], "\(key): hdrh \(read) vs ours \(ours)")
        }
        // hdrh's own rank rule rounds to nearest: within one bucket (0.1 %).
        for key in ["p50", "p99"] {
            let theirs = Double(read["hdrh_" + key] as? Int ?? -1)
            XCTAssertEqual(theirs, Double(ours[key] ?? 0), accuracy: Double(ours[key] ?? 0) * 0.002 + 1, key)
        }
    }

    func testHdrOutWithIntervalsSumsToTheRun() throws {
        let server = try startEchoServer(["--workers", "1"])
        let log = directory.appendingPathComponent("intervals.hdr").path
        let result = try loadTest(
            target(server) + [
                "--clients", "4", "--messages", "1000000", "--concurrency", "4", "--duration", "1.2", "--interval",
                "0.3", "--hdr-out", log, "--json", "--threads", "2",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let run = try object(result.stdout)
        let intervals = try XCTUnwrap(run["intervals"] as? [[String: Any]])
        let read = try python(Self.readLog, [log])
        XCTAssertEqual(read["lines"] as? Int, intervals.count)
        XCTAssertGreaterThanOrEqual(intervals.count, 4)
        XCTAssertEqual(read["count"] as? Int, run["ok"] as? Int)
        let ours = try latency(run)
        for key in ["p50", "p99", "max"] { XCTAssertEqual(read[key] as? Int, ours[key], key) }
    }

    // MARK: - 2. Intervals and the NDJSON stream

    func testJSONStreamObjectsValidateAgainstTheDocumentedSchema() throws {
        let server = try startEchoServer(["--workers", "1"])
        let result = try loadTest(
            target(server) + [
                "--clients", "4", "--messages", "1000000", "--concurrency", "4", "--duration", "1.5", "--interval",
                "0.5", "--rate", "1000", "--warmup", "0.2", "--json-stream",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let lines = result.stdoutLines
        XCTAssertGreaterThanOrEqual(lines.count, 3, result.stdout)
        let schema = try repositoryFile("docs/load-testing.schema.json")
        let stream = directory.appendingPathComponent("stream.ndjson")
        try result.stdout.write(to: stream, atomically: true, encoding: .utf8)
        let script = """
            import sys, json, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            v = jsonschema.Draft202012Validator(schema)
            types = []
            for line in open(sys.argv[2]):
                o = json.loads(line)
                errors = [e.message for e in v.iter_errors(o)]
                if errors: print(json.dumps({"error": errors[:3], "line": line[:200]})); sys.exit(0)
                types.append(o["type"])
            print(json.dumps({"types": types}))
            """
        let checked = try python(script, [schema.path, stream.path])
        XCTAssertNil(checked["error"], "\(checked)")
        let types = try XCTUnwrap(checked["types"] as? [String])
        XCTAssertEqual(types.last, "final")
        XCTAssertEqual(Set(types.dropLast()), ["interval"])
        // The intervals add up to the final counts.
        let objects = try lines.map(object)
        let final = try XCTUnwrap(objects.last)
        let okSum = objects.dropLast().reduce(0) { $0 + ($1["ok"] as? Int ?? 0) }
        XCTAssertEqual(okSum, final["ok"] as? Int)
        XCTAssertEqual(objects.first?["start_s"] as? Double, 0.2, "intervals start after the warm-up")
        XCTAssertNotNil(objects.first?["latency_uncorrected_us"] as? [String: Any], "with --rate: both latencies")
    }

    func testIntervalLinesAreHumanAndAddUp() throws {
        let server = try startEchoServer(["--workers", "1"])
        let result = try loadTest(
            target(server) + [
                "--clients", "2", "--messages", "1000000", "--concurrency", "2", "--duration", "1", "--interval",
                "0.25",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let intervalLines = result.stdoutLines.filter { $0.hasPrefix("[") }
        XCTAssertGreaterThanOrEqual(intervalLines.count, 4, result.stdout)
        var sum = 0
        for line in intervalLines {
            // [0.0-0.3 s] 1234.0 rt/s, 308 ok, 0 failed, p50 40 us, p99 90 us
            XCTAssertNotNil(
                line.range(
                    of:
                        #"^\[[0-9.]+-[0-9.]+ s\] [0-9.]+ rt/s, [0-9]+ ok, [0-9]+ failed, (p50 [0-9]+ us, p99 [0-9]+ us|no latency)$"#,
                    options: .regularExpression), line)
            let ok = line.components(separatedBy: ", ")[1].components(separatedBy: " ")[0]
            sum += Int(ok) ?? -1_000_000
        }
        let first = try XCTUnwrap(result.stdoutLines.first { !$0.hasPrefix("[") })
        XCTAssertEqual(first, "\(sum)/\(sum) ok, 0 failed")
    }

    // MARK: - 3. Warm-up

    func testWarmupIsRunButNotCounted() throws {
        let server = try startEchoServer(["--workers", "1"])
        let result = try loadTest(
            target(server) + [
                "--clients", "2", "--messages", "1000000", "--concurrency", "2", "--duration", "1", "--warmup", "0.4",
                "--json",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let run = try object(result.stdout)
        let discarded = try XCTUnwrap(run["warmup_discarded"] as? Int)
        let ok = try XCTUnwrap(run["ok"] as? Int)
        XCTAssertGreaterThan(discarded, 0)
        XCTAssertGreaterThan(ok, 0)
        XCTAssertEqual(run["warmup"] as? Double, 0.4)
        let measured = try XCTUnwrap(run["measured_time_s"] as? Double)
        let wall = try XCTUnwrap(run["wall_time_s"] as? Double)
        XCTAssertEqual(measured, wall - 0.4, accuracy: 0.002)
        // The server echoed both: what was counted and what was discarded.
        _ = try server.stop()
        let stopped = try XCTUnwrap(server.log.entries(event: "server_stopped").last)
        XCTAssertEqual(stopped.integer("frames"), ok + discarded)
    }

    // MARK: - 4. Corrected and uncorrected latency

    func testStalledServerShowsInCorrectedLatencyOnly() throws {
        let server = try startEchoServer(["--workers", "1"])
        let process = try TrustctlProcess.start(
            ["echo-load-test"] + target(server) + [
                "--clients", "1", "--messages", "100000000", "--duration", "3", "--rate", "1000", "--json",
            ], environment: env.variables)
        addTeardownBlock { process.kill() }
        // Stop our own server for a second in the middle of the run.
        usleep(1_000_000)
        XCTAssertEqual(kill(server.pid, SIGSTOP), 0)
        usleep(1_000_000)
        XCTAssertEqual(kill(server.pid, SIGCONT), 0)
        XCTAssertEqual(try process.waitForExit(timeout: 60), 0, process.stderr)
        let run = try object(process.stdout)
        let corrected = try latency(run)
        let uncorrected = try latency(run, "latency_uncorrected_us")
        // ~1000 requests were due during the stall: they wait up to 1 s.
        XCTAssertGreaterThan(corrected["p99"] ?? 0, 500_000, "corrected \(corrected)")
        XCTAssertGreaterThan(corrected["max"] ?? 0, 800_000, "corrected \(corrected)")
        // Only the one request in flight saw it from its actual send.
        XCTAssertLessThan(uncorrected["p99"] ?? .max, 100_000, "uncorrected \(uncorrected)")
        XCTAssertLessThan(uncorrected["p90"] ?? .max, (corrected["p90"] ?? 0) / 5, "\(uncorrected) vs \(corrected)")
        XCTAssertNotNil(run["latency_uncorrected_hdr"] as? String)
    }

    func testFallingBehindTheScheduleIsSaid() throws {
        let server = try startEchoServer(["--workers", "1"])
        // One connection cannot make 10^8 round trips/s.
        let result = try loadTest(
            target(server) + ["--clients", "1", "--messages", "100000000", "--duration", "0.5", "--rate", "100000000"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let line = try XCTUnwrap(result.stdoutLines.first { $0.hasPrefix("generator fell behind the schedule: ") })
        XCTAssertTrue(line.contains("of 100000000.0 scheduled"), line)
        XCTAssertTrue(result.stdout.contains("latency us uncorrected (from actual sends): p50 "), result.stdout)
        let onTime = try loadTest(
            target(server) + ["--clients", "1", "--messages", "50", "--rate", "500", "--json"])
        let run = try object(onTime.stdout)
        XCTAssertTrue(run["behind_schedule"] is NSNull, onTime.stdout)
        XCTAssertEqual(run["achieved_rate_per_s"] as? Double ?? 0, 500, accuracy: 40)
    }

    // MARK: - 5. Generator CPU

    func testGeneratorCPUPerRoundTripIsReported() throws {
        let server = try startEchoServer(["--workers", "1"])
        let result = try loadTest(
            target(server) + ["--clients", "10", "--messages", "200", "--concurrency", "5", "--json"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let cpu = try XCTUnwrap(try object(result.stdout)["generator_cpu"] as? [String: Any])
        let user = try XCTUnwrap(cpu["user_us_per_round_trip"] as? Double)
        let system = try XCTUnwrap(cpu["system_us_per_round_trip"] as? Double)
        XCTAssertGreaterThan(user + system, 0, "\(cpu)")
        XCTAssertEqual(cpu["threads"] as? Int, 1)
        XCTAssertNotNil(cpu["saturated"] as? Bool)
        let summary = try loadTest(target(server) + ["--clients", "2", "--messages", "20"])
        XCTAssertNotNil(
            summary.stdoutLines.first { $0.hasPrefix("generator CPU us per round trip: user ") }, summary.stdout)
    }

    // MARK: - 6. Merge

    func testMergeOfThreeSimultaneousGeneratorsMatchesTheirLogsAndTheServer() throws {
        let server = try startEchoServer(["--workers", "2"])
        var processes: [RunningTrustctl] = []
        var logs: [String] = []
        for index in 0..<3 {
            let log = directory.appendingPathComponent("gen\(index).hdr").path
            logs.append(log)
            let process = try TrustctlProcess.start(
                ["echo-load-test"] + target(server) + [
                    "--clients", "3", "--messages", "100000000", "--concurrency", "3", "--duration", "1.5", "--json",
                    "--interval", "0.25", "--hdr-out", log,
                ], environment: env.variables)
            addTeardownBlock { process.kill() }
            processes.append(process)
        }
        var files: [String] = []
        for (index, process) in processes.enumerated() {
            XCTAssertEqual(try process.waitForExit(timeout: 60), 0, process.stderr)
            let file = directory.appendingPathComponent("gen\(index).json")
            try process.stdout.write(to: file, atomically: true, encoding: .utf8)
            files.append(file.path)
        }
        let merged = try loadTest(["merge", "--json"] + files)
        XCTAssertEqual(merged.exitCode, 0, merged.stderr)
        let m = try object(merged.stdout)
        let runs = try files.map { try object(String(contentsOfFile: $0, encoding: .utf8)) }
        XCTAssertEqual(m["ok"] as? Int, runs.reduce(0) { $0 + ($1["ok"] as? Int ?? 0) })
        XCTAssertEqual((m["runs"] as? [Any])?.count, 3)
        // Rates summed over the common window: each run's intervals inside it.
        let from = try XCTUnwrap(m["window_start_unix_s"] as? Double)
        let to = try XCTUnwrap(m["window_end_unix_s"] as? Double)
        XCTAssertGreaterThan(to, from, "the three ran at the same time")
        XCTAssertEqual(m["rate_basis"] as? String, "common_window")
        var rates = 0.0
        for run in runs {
            let started = try XCTUnwrap(run["started_at_unix_s"] as? Double)
            let inside = (run["intervals"] as? [[String: Any]] ?? []).filter {
                started + ($0["start_s"] as? Double ?? -1) >= from - 0.001
                    && started + ($0["end_s"] as? Double ?? .infinity) <= to + 0.001
            }
            let seconds = inside.reduce(0.0) { $0 + ($1["end_s"] as? Double ?? 0) - ($1["start_s"] as? Double ?? 0) }
            XCTAssertGreaterThan(seconds, 0)
            rates += Double(inside.reduce(0) { $0 + ($1["ok"] as? Int ?? 0) }) / seconds
        }
        XCTAssertEqual(m["round_trips_per_s"] as? Double ?? 0, rates, accuracy: 0.1)
        let union = try python(Self.readLog, logs)
        let mergedLatency = try latency(m)
        XCTAssertEqual(union["count"] as? Int, m["ok"] as? Int)
        for key in ["p50", "p90", "p99", "p99_9", "max", "min"] {
            XCTAssertEqual(union[key] as? Int, mergedLatency[key], "\(key): union \(union) vs merged \(mergedLatency)")
        }
        _ = try server.stop()
        let stopped = try XCTUnwrap(server.log.entries(event: "server_stopped").last)
        XCTAssertEqual(stopped.integer("frames"), m["ok"] as? Int, "the server's own count of round trips")
        // The human summary of the same merge.
        let summary = try loadTest(["merge"] + files)
        XCTAssertEqual(
            summary.stdoutLines.first, "\(m["ok"] as? Int ?? -1)/\(m["attempted"] as? Int ?? -1) ok, 0 failed")
        XCTAssertTrue(summary.stdout.contains("runs merged: 3"), summary.stdout)
    }

    func testMergeOfAFailedRunExitsWithItsCode() throws {
        var port: UInt16 = 0
        let listener = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, &port)
        XCTAssertGreaterThanOrEqual(listener, 0)
        _ = cnet_close(listener)
        let refused = try loadTest([
            "--host", "127.0.0.1", "--port", "\(port)", "--clients", "2", "--messages", "3", "--json",
        ])
        XCTAssertEqual(refused.exitCode, 69, refused.stderr)
        let file = directory.appendingPathComponent("refused.json")
        try refused.stdout.write(to: file, atomically: true, encoding: .utf8)
        let merged = try loadTest(["merge", file.path, file.path])
        XCTAssertEqual(merged.exitCode, 69, merged.stderr)
        XCTAssertEqual(merged.stdoutLines.first, "0/12 ok, 12 failed")
        XCTAssertTrue(merged.stdout.contains("latency: no successful round trip"), merged.stdout)
        XCTAssertEqual(
            merged.stderrLines,
            ["echo-load-test merge: 12 of 12 round trips failed; exit code of the first failing run"])
    }

    func testMergeRefusesWhatIsNotARunResult() throws {
        let bad = directory.appendingPathComponent("bad.json")
        try "{\"ok\": 1}".write(to: bad, atomically: true, encoding: .utf8)
        let result = try loadTest(["merge", bad.path])
        XCTAssertEqual(result.exitCode, 65, result.stderr)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        let missing = try loadTest(["merge", directory.appendingPathComponent("none.json").path])
        XCTAssertEqual(missing.exitCode, 65, missing.stderr)
        XCTAssertEqual(missing.stderrLines.count, 1, missing.stderr)
        let none = try loadTest(["merge"])
        XCTAssertEqual(none.exitCode, 64, none.stderr)
    }

    // MARK: - 7. Source addresses

    func testSourceAddressesCarryAThirdOfTheConnectionsEach() throws {
        let server = try startEchoServer(["--workers", "1"])
        let result = try loadTest(
            target(server) + [
                "--clients", "30", "--messages", "3", "--concurrency", "6", "--source-ip",
                "127.0.0.2,127.0.0.3,127.0.0.4",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines.first, "90/90 ok, 0 failed")
        _ = try server.stop()
        var perAddress: [String: Int] = [:]
        for entry in server.log.entries(event: "connection_accepted") {
            guard let peer = entry.peer, let colon = peer.lastIndex(of: ":") else { continue }
            perAddress[String(peer[..<colon]), default: 0] += 1
        }
        XCTAssertEqual(perAddress["127.0.0.2"], 10, "\(perAddress)")
        XCTAssertEqual(perAddress["127.0.0.3"], 10, "\(perAddress)")
        XCTAssertEqual(perAddress["127.0.0.4"], 10, "\(perAddress)")
    }

    func testSourceAddressCIDRAndFamilyMismatch() throws {
        let server = try startEchoServer(["--workers", "1", "--log-level", "info"])
        // 127.0.0.4/30: the block .4-.7 without its ends, .5 and .6.
        let cidr = try loadTest(
            target(server) + ["--clients", "4", "--messages", "1", "--source-ip", "127.0.0.4/30", "--json"])
        XCTAssertEqual(cidr.exitCode, 0, cidr.stderr)
        XCTAssertEqual(try object(cidr.stdout)["source_ip"] as? [String], ["127.0.0.5", "127.0.0.6"])
        let mismatch = try loadTest(target(server) + ["--clients", "1", "--messages", "1", "--source-ip", "::1"])
        XCTAssertEqual(mismatch.exitCode, 64, mismatch.stderr)
        XCTAssertEqual(mismatch.stderrLines.count, 1, mismatch.stderr)
        _ = try server.stop()
        let peers = Set(
            server.log.entries(event: "connection_accepted").compactMap { $0.peer?.split(separator: ":").first }
                .map(String.init))
        XCTAssertTrue(peers.isSuperset(of: ["127.0.0.5", "127.0.0.6"]), "\(peers)")
        XCTAssertFalse(peers.contains("127.0.0.4"), "\(peers)")
    }

    // MARK: - 8. The plot

    func testPlotSVGSeriesMatchTheJSON() throws {
        let server = try startEchoServer(["--workers", "1"])
        let svg = directory.appendingPathComponent("run.svg")
        let result = try loadTest(
            target(server) + [
                "--clients", "2", "--messages", "1000000", "--concurrency", "2", "--duration", "1", "--interval",
                "0.25",
                "--rate", "2000", "--plot", svg.path, "--json",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let run = try object(result.stdout)
        let document = try XMLDocument(contentsOf: svg)
        func series(_ id: String) throws -> [(Double, Double)] {
            let nodes = try document.nodes(forXPath: "//*[local-name()='polyline'][@id='\(id)']")
            let element = try XCTUnwrap(nodes.first as? XMLElement, "series \(id)")
            let attribute = element.attributes?.first { $0.name == "data-points" || $0.localName == "data-points" }
            let data = try XCTUnwrap(attribute?.stringValue, "data-points of \(id): \(element.xmlString.prefix(120))")
            return data.split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").compactMap { Double($0) }
                return (xy.first ?? .nan, xy.last ?? .nan)
            }
        }
        let percentiles = Dictionary(try series("latency-by-percentile").map { ($0.0, $0.1) }) { a, _ in a }
        let ours = try latency(run)
        XCTAssertEqual(percentiles[50], Double(ours["p50"] ?? -1))
        XCTAssertEqual(percentiles[90], Double(ours["p90"] ?? -1))
        XCTAssertEqual(percentiles[99], Double(ours["p99"] ?? -1))
        XCTAssertEqual(percentiles[100], Double(ours["max"] ?? -1))
        let uncorrected = Dictionary(try series("latency-uncorrected-by-percentile").map { ($0.0, $0.1) }) { a, _ in a }
        XCTAssertEqual(uncorrected[99], Double(try latency(run, "latency_uncorrected_us")["p99"] ?? -1))
        let intervals = try XCTUnwrap(run["intervals"] as? [[String: Any]])
        let throughput = try series("throughput")
        XCTAssertEqual(throughput.map(\.1), intervals.map { $0["round_trips_per_s"] as? Double ?? -1 })
        XCTAssertEqual(throughput.map(\.0), intervals.map { $0["end_s"] as? Double ?? -1 })
        let p99 = try series("p99-over-time")
        XCTAssertEqual(
            p99.map(\.1), intervals.compactMap { ($0["latency_us"] as? [String: Any])?["p99"] as? Int }.map(Double.init)
        )
    }

    // MARK: - Bad values

    func testBadValuesOfEveryNewOptionExit64WithOneLine() throws {
        let base = ["--host", "127.0.0.1", "--port", "9", "--clients", "1", "--messages", "1"]
        let cases: [[String]] = [
            ["--interval", "0"], ["--interval", "abc"], ["--interval", "-1"],
            ["--warmup", "1"], ["--duration", "1", "--warmup", "2"], ["--duration", "1", "--warmup", "x"],
            ["--json-stream"], ["--interval", "1", "--json-stream", "--json"],
            ["--hdr-out", ""], ["--plot", ""],
            ["--source-ip", "300.1.1.1"], ["--source-ip", "127.0.0.1,"], ["--source-ip", "10.0.0.0/8"],
            ["--source-ip", "127.0.0.1/33"], ["--source-ip", "localhost"],
        ]
        for extra in cases {
            let result = try loadTest(base + extra)
            XCTAssertEqual(result.exitCode, 64, "\(extra): \(result.stderr)")
            XCTAssertEqual(result.stderrLines.count, 1, "\(extra): \(result.stderr)")
            XCTAssertEqual(result.stdout, "", "\(extra)")
        }
        let unwritable = try loadTest(base + ["--hdr-out", "/nonexistent-dir/x.hdr"])
        XCTAssertEqual(unwritable.exitCode, 73, unwritable.stderr)
        XCTAssertEqual(unwritable.stderrLines.count, 1, unwritable.stderr)
    }

    private func repositoryFile(_ path: String) throws -> URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(path)
    }
}

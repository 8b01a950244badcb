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
/// log, `jsonschema` for the NDJSON stream). Merge, source addresses and
/// the plot: LoadTestMergeTests.
final class LoadTestMeasuringTests: LoadTestMeasuringCase {
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
}

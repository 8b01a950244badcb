import CNetShim
import Foundation
import XCTest

#if canImport(FoundationXML)
    import FoundationXML
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Black-box tests of `echo-load-test merge`, `--source-ip` and `--plot`
/// (SPEC §8), against real servers on --port 0.
final class LoadTestMergeTests: LoadTestMeasuringCase {
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
}

import CNetShim
import Foundation
import XCTest

#if canImport(FoundationXML)
    import FoundationXML
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// What the black-box tests of echo-load-test's measuring options share:
/// a private TRUST_HOME and directory, the binary, JSON, and Python (hdrh,
/// jsonschema) as independent readers.
class LoadTestMeasuringCase: XCTestCase {
    var env: TrustctlTestEnvironment!
    var directory: URL!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
        directory = env.directory
    }

    func loadTest(_ arguments: [String], timeout: Double = 60) throws -> TrustctlResult {
        try TrustctlProcess.run(["echo-load-test"] + arguments, environment: env.variables, timeout: timeout)
    }

    func target(_ server: EchoServerUnderTest) -> [String] {
        ["--host", "127.0.0.1", "--port", "\(server.port)"]
    }

    func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func latency(_ object: [String: Any], _ key: String = "latency_us") throws -> [String: Int] {
        let l = try XCTUnwrap(object[key] as? [String: Any], "\(key) in \(object)")
        return l.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// Runs a Python script with arguments; its stdout parsed as JSON.
    func python(_ script: String, _ arguments: [String]) throws -> [String: Any] {
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
    static let readLog = """
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

    /// A file of the repository: up from this source file to Package.swift.
    func repositoryFile(_ path: String) throws -> URL {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<6 where !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent(path)
    }
}

import ArgumentParser
import Foundation
import TrustCore

/// The options of `echo-load-test` for measuring real systems (SPEC §8):
/// declared here, beside the basic ones of `EchoLoadTestCommand`.
enum LoadTestMeasuringArguments {
    static let interval = CommandValue<Double>.option(
        "interval", .decimal(.loadTestInterval, placeholder: "seconds"),
        help: "Print one line per interval of this length: elapsed, rt/s, ok, failed, p50/p99 of the interval.")
    static let jsonStream = CommandFlag(
        name: "json-stream",
        help: "With --interval: NDJSON on stdout, one object per interval, then the final --json object.")
    static let warmup = CommandValue<Double>.option(
        "warmup", .decimal(.loadTestWarmup, placeholder: "seconds"),
        help: "Run the first S seconds of --duration but do not count them (round trips discarded are reported).")
    static let hdrOut = CommandValue<String>.option(
        "hdr-out", .outputPath,
        help: "Write the latency histogram (one per interval with --interval) as an HdrHistogram interval log.")
    static let plot = CommandValue<String>.option(
        "plot", .outputPath,
        help: "Write an SVG chart: latency by percentile; with --interval, throughput and p99 over time.")
    static let sourceIP = CommandValue<LoadSourceAddresses>.option(
        "source-ip", .sourceAddresses,
        help: "Bind connections round-robin to these local addresses (comma-separated, or an IPv4 CIDR block).")

    static let all: [any CommandArgument] = [interval, jsonStream, warmup, hdrOut, plot, sourceIP]

    static func measuring(_ parsed: ParsedArguments) throws -> LoadTestMeasuring {
        if parsed.isSet(jsonStream) {
            if parsed.isSet(EchoLoadTestCommand.json) {
                throw ValidationError("--json and --json-stream: give one of them")
            }
            if parsed.values[interval.name] == nil { throw ValidationError("--json-stream needs --interval") }
        }
        return LoadTestMeasuring(
            interval: try parsed.value(interval), warmup: try parsed.value(warmup),
            sourceAddresses: try parsed.value(sourceIP))
    }

    /// Where the results go besides the summary: interval lines or NDJSON
    /// on stdout, and the files of --hdr-out and --plot (created before the
    /// run, so a path that cannot be written fails at once, not after it).
    struct Outputs {
        let jsonStream: Bool
        let intervals: Bool
        let hdrOut: String?
        let plot: String?

        init(_ parsed: ParsedArguments) throws {
            jsonStream = parsed.isSet(LoadTestMeasuringArguments.jsonStream)
            intervals =
                parsed.values[LoadTestMeasuringArguments.interval.name] != nil
                && !parsed.isSet(EchoLoadTestCommand.json)
            hdrOut = try parsed.value(LoadTestMeasuringArguments.hdrOut)
            plot = try parsed.value(LoadTestMeasuringArguments.plot)
            for (flag, path) in [("--hdr-out", hdrOut), ("--plot", plot)] {
                if let path { try Outputs.create(path, flag) }
            }
        }

        /// Called on the main thread for each interval as it completes.
        var intervalPrinter: ((LoadInterval) -> Void)? {
            guard intervals else { return nil }
            let stream = jsonStream
            return { interval in
                StandardOutput.line(stream ? interval.json : interval.line)
                try? StandardOutput.flush()
            }
        }

        func write(_ report: LoadTestReport) throws {
            if let hdrOut { try Outputs.write(HdrIntervalLog.text(of: report), to: hdrOut, "--hdr-out") }
            if let plot { try Outputs.write(LoadTestPlot.svg(of: report), to: plot, "--plot") }
        }

        static func create(_ path: String, _ flag: String) throws {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw TrustError(
                    kind: .cannotCreate, message: "echo-load-test: \(flag) \(path): cannot create the file")
            }
        }

        static func write(_ text: String, to path: String, _ flag: String) throws {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                throw TrustError(kind: .cannotCreate, message: "echo-load-test: \(flag) \(path): cannot write the file")
            }
        }
    }
}

import Foundation

/// A run's latency in HdrHistogram's interval log format (version 1.3),
/// what `--hdr-out` writes: a header, then one line per interval with its
/// histogram V2 compressed, base64. Timestamps are seconds since the run's
/// start (`BaseTime`); latencies are microseconds, `Interval_Max` in
/// milliseconds (HdrHistogram's tools divide by 1000 for a µs histogram).
/// Without `--interval` the log holds one line, the whole measured window;
/// with it, one line per interval, and the run's histogram is their sum.
public enum HdrIntervalLog {
    public static func text(of report: LoadTestReport) -> String {
        let start = report.run.startedAtUnix
        var lines = [
            "#[Histogram log format version 1.3]",
            "#[StartTime: \(LoadTestReport.fixed(start, 3)) (seconds since epoch), \(Date(timeIntervalSince1970: start))]",
            "#[BaseTime: \(LoadTestReport.fixed(start, 3)) (seconds since epoch)]",
            "#[trustctl echo-load-test: latency in microseconds, from scheduled send times with --rate]",
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"",
        ]
        func line(_ startS: Double, _ lengthS: Double, _ maxUs: UInt64, _ hdr: String) -> String {
            "\(LoadTestReport.fixed(startS, 3)),\(LoadTestReport.fixed(lengthS, 3)),\(LoadTestReport.fixed(Double(maxUs) / 1000, 3)),\(hdr)"
        }
        if report.options.measuring.interval != nil {
            for i in report.run.intervals { lines.append(line(i.startSeconds, i.seconds, i.latency.max, i.hdr)) }
        } else {
            lines.append(
                line(
                    report.warmupSeconds, report.measuredSeconds, report.latency?.max ?? 0,
                    HdrHistogramCodec.encode(report.tally.latency)))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

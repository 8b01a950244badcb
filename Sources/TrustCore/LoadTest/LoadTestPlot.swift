import Foundation

/// `--plot FILE.svg`: one self-contained SVG (no script, no external
/// reference). First panel: HdrHistogram's percentile plot, latency against
/// percentile on a log 1/(1-p) axis (corrected and, with --rate,
/// uncorrected). With --interval, two more panels: round trips/s and p99
/// per interval over time.
///
/// Each series is a `<polyline>` with an `id` and a `data-points`
/// attribute holding its exact values (`x,y` pairs separated by spaces:
/// percentile,microseconds or seconds,value), so the chart can be checked
/// by a program as well as looked at.
public enum LoadTestPlot {
    /// The percentiles of the distribution series, those the run has
    /// samples enough for (1/(1-p) at most the count), then 100 (the max).
    static let percentiles: [Double] = [
        0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.25, 99.5, 99.75, 99.9, 99.95,
        99.99, 99.995, 99.999, 99.9999,
    ]

    static let width = 860.0
    static let left = 90.0
    static let right = 30.0
    static let panelHeight = 260.0
    static let gap = 70.0

    public static func distribution(_ recorder: LatencyRecorder) -> [(percentile: Double, micros: UInt64)] {
        let count = Double(recorder.count)
        guard count > 0 else { return [] }
        var points = percentiles.filter { $0 < 100 && 1 / (1 - $0 / 100) <= count }.map {
            ($0, recorder.value(atPercentile: $0))
        }
        points.append((100, recorder.summary.max))
        return points
    }

    public static func svg(of report: LoadTestReport) -> String {
        var panels: [String] = []
        var top = 50.0
        var series: [(String, String, [(Double, Double)])] = [
            ("latency-by-percentile", "#1f77b4", distribution(report.tally.latency).map { ($0.0, Double($0.1)) })
        ]
        if report.options.rate != nil {
            series.append(
                (
                    "latency-uncorrected-by-percentile", "#ff7f0e",
                    distribution(report.tally.extra.uncorrected).map { ($0.0, Double($0.1)) }
                ))
        }
        panels.append(percentilePanel(series, top: top))
        top += panelHeight + gap
        let intervals = report.run.intervals
        if report.options.measuring.interval != nil && !intervals.isEmpty {
            // The values as the JSON gives them (same rounding).
            let throughput = intervals.map {
                (LoadTestReport.rounded($0.endSeconds, 3), LoadTestReport.rounded($0.roundTripsPerSecond, 1))
            }
            panels.append(
                timePanel(
                    "throughput", "round trips/s per interval", "round trips/s", "#2ca02c", throughput, top: top))
            top += panelHeight + gap
            let p99 = intervals.filter { $0.ok > 0 }.map {
                (LoadTestReport.rounded($0.endSeconds, 3), Double($0.latency.p99))
            }
            panels.append(timePanel("p99-over-time", "p99 latency per interval", "us", "#d62728", p99, top: top))
            top += panelHeight + gap
        }
        let height = top - gap + 40
        let title =
            "trustctl echo-load-test: \(report.ok)/\(report.attempted) ok, \(LoadTestReport.fixed(report.roundTripsPerSecond, 1)) round trips/s, \(report.options.effectiveConcurrency) connections"
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="24" text-anchor="middle" font-size="15">\(escape(title))</text>
            \(panels.joined(separator: "\n"))
            </svg>

            """
    }

    // MARK: - Panels

    /// x: log10(1/(1-p)), from 0 (p = 0) to the largest finite point's
    /// decade; the max (p = 100) is drawn at the right edge.
    static func percentilePanel(_ series: [(String, String, [(Double, Double)])], top: Double) -> String {
        let all: [(Double, Double)] = series.flatMap { $0.2 }
        let finite: [Double] = all.filter { $0.0 < 100 }.map { (p: (Double, Double)) -> Double in
            log10(1 / (1 - p.0 / 100))
        }
        let largest: Double = finite.max() ?? 1
        let decades: Double = max(1, largest.rounded(.up) + 1)
        let maxY: Double = all.map { $0.1 }.max() ?? 1
        let yTop = niceCeiling(maxY)
        let plotWidth = width - left - right
        func x(_ p: Double) -> Double {
            let d: Double = p >= 100 ? decades : Swift.min(log10(1 / (1 - p / 100)), decades)
            return left + d / decades * plotWidth
        }
        func y(_ v: Double) -> Double { top + panelHeight - v / yTop * panelHeight }
        var out = frame(top: top, title: "latency by percentile", yLabel: "latency us", yTop: yTop)
        for d in 0...Int(decades) {
            let p = 100 * (1 - pow(10, -Double(d)))
            let label = d == Int(decades) ? "max" : "\(NumberRange.format(LoadTestReport.rounded(p, 4)))%"
            let px = left + Double(d) / decades * plotWidth
            out += line(px, top + panelHeight, px, top + panelHeight + 5)
            out += text(px, top + panelHeight + 18, label, anchor: "middle")
        }
        out += text(left + plotWidth / 2, top + panelHeight + 36, "percentile (log scale of 1/(1-p))", anchor: "middle")
        for (index, (id, color, points)) in series.enumerated() {
            out += polyline(id, color, points, x: x, y: y)
            let legend = id.contains("uncorrected") ? "uncorrected (from actual send)" : "corrected (headline)"
            out += text(left + 10, top + 16 + Double(index) * 16, legend, color: color)
        }
        return out
    }

    static func timePanel(
        _ id: String, _ title: String, _ yLabel: String, _ color: String, _ points: [(Double, Double)], top: Double
    ) -> String {
        let maxX = max(points.map(\.0).max() ?? 1, 0.001)
        let yTop = niceCeiling(points.map(\.1).max() ?? 1)
        let plotWidth = width - left - right
        func x(_ t: Double) -> Double { left + t / maxX * plotWidth }
        func y(_ v: Double) -> Double { top + panelHeight - v / yTop * panelHeight }
        var out = frame(top: top, title: title, yLabel: yLabel, yTop: yTop)
        for i in 0...5 {
            let t = maxX * Double(i) / 5
            out += line(x(t), top + panelHeight, x(t), top + panelHeight + 5)
            out += text(x(t), top + panelHeight + 18, LoadTestReport.fixed(t, 1), anchor: "middle")
        }
        out += text(
            left + plotWidth / 2, top + panelHeight + 36, "seconds since start (interval end)", anchor: "middle")
        out += polyline(id, color, points, x: x, y: y)
        return out
    }

    static func frame(top: Double, title: String, yLabel: String, yTop: Double) -> String {
        var out = "<g>\n"
        out += text(left, top - 10, title, anchor: "start", size: 13)
        out +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(panelHeight))\" fill=\"none\" stroke=\"#888\"/>\n"
        for i in 0...4 {
            let v = yTop * Double(i) / 4
            let py = top + panelHeight - Double(i) / 4 * panelHeight
            out +=
                "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(width - right))\" y2=\"\(f(py))\" stroke=\"#eee\"/>\n"
            out += text(left - 6, py + 4, NumberRange.format(LoadTestReport.rounded(v, 1)), anchor: "end")
        }
        out +=
            "<text x=\"20\" y=\"\(f(top + panelHeight / 2))\" transform=\"rotate(-90 20 \(f(top + panelHeight / 2)))\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        return out + "</g>\n"
    }

    static func polyline(
        _ id: String, _ color: String, _ points: [(Double, Double)], x: (Double) -> Double, y: (Double) -> Double
    ) -> String {
        let drawn = points.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
        let data = points.map { "\(NumberRange.format($0.0)),\(NumberRange.format($0.1))" }.joined(separator: " ")
        return
            "<polyline id=\"\(id)\" data-points=\"\(data)\" points=\"\(drawn)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"#888\"/>\n"
    }

    static func text(
        _ x: Double, _ y: Double, _ content: String, anchor: String = "start", size: Int = 12, color: String = "#222"
    ) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\" fill=\"\(color)\">\(escape(content))</text>\n"
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, (log10(value)).rounded(.down))
        for step in [1.0, 2, 5, 10] where step * power >= value { return step * power }
        return 10 * power
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

import Foundation

/// The text of the progress display (SPEC §8): elapsed time, rate, ok and
/// failed counts, and the remaining time (duration mode) or round trips
/// (count mode), fitted to the terminal's width.
///
/// Pure, so every width can be tested: the richest form that fits is
/// chosen — with a bar, without it, compact numbers, then the least
/// important parts dropped — and it is never longer than `width - 1`
/// characters. The last column is left free: writing into it makes many
/// terminals wrap, and a wrapped line can no longer be redrawn in place
/// with a carriage return.
struct ProgressLine: Equatable {
    var elapsedSeconds: Double
    var ok: Int
    var failed: Int
    /// Round trips (ok or failed) per second, recently.
    var rate: Double
    /// Duration mode: the run's length in seconds.
    var durationSeconds: Double?
    /// Count mode: the round trips planned (clients × messages).
    var planned: Int?

    static let maxBarWidth = 30
    static let minBarWidth = 10

    func text(width: Int) -> String {
        let room = max(0, width - 1)
        let full = fullForm().joined(separator: "  ")
        if full.count <= room { return withBar(full, room: room) }
        for parts in compactForms() {
            let line = parts.joined(separator: " ")
            if line.count <= room { return line }
        }
        return String(compactForms().last!.joined(separator: " ").prefix(room))
    }

    /// How far the run is, 0...1.
    var fraction: Double {
        if let durationSeconds, durationSeconds > 0 { return min(1, max(0, elapsedSeconds / durationSeconds)) }
        if let planned, planned > 0 { return min(1, Double(ok &+ failed) / Double(planned)) }
        return 0
    }

    private func withBar(_ line: String, room: Int) -> String {
        let barWidth = min(ProgressLine.maxBarWidth, room - line.count - 3)
        guard barWidth >= ProgressLine.minBarWidth else { return line }
        let filled = min(barWidth, Int(fraction * Double(barWidth)))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "] "
            + line
    }

    private func fullForm() -> [String] {
        let elapsed = ProgressLine.seconds(elapsedSeconds, compact: false)
        let rate = "\(ProgressLine.count(roundedRate, compact: false)) rt/s"
        let counts = ["ok \(ok)", "failed \(failed)"]
        return [elapsed, rate] + counts + [remaining(compact: false)]
    }

    /// From the most to the least complete: the rate goes first, then the
    /// elapsed time; the counts and what is left stay to the end.
    private func compactForms() -> [[String]] {
        let elapsed = ProgressLine.seconds(elapsedSeconds, compact: true)
        let rate = "\(ProgressLine.count(roundedRate, compact: true))/s"
        let counts = [
            "ok \(ProgressLine.count(ok, compact: true))", "fail \(ProgressLine.count(failed, compact: true))",
        ]
        let left = remaining(compact: true)
        return [[elapsed, rate] + counts + [left], [elapsed] + counts + [left], counts + [left], counts]
    }

    /// The rate as a whole number; a rate that is not a finite,
    /// non-negative number (no time has passed yet) shows as 0.
    private var roundedRate: Int { rate.isFinite && rate > 0 ? Int(min(rate, 1e15).rounded()) : 0 }

    private func remaining(compact: Bool) -> String {
        if let durationSeconds {
            return "\(ProgressLine.seconds(max(0, durationSeconds - elapsedSeconds), compact: compact)) left"
        }
        let left = max(0, (planned ?? 0) &- ok &- failed)
        if compact { return "\(ProgressLine.count(left, compact: true)) left" }
        return "\(left) of \(planned ?? 0) left"
    }

    /// `12.3 s`, then `4:05` and `1:02:03` (compact: `12.3s`).
    static func seconds(_ value: Double, compact: Bool) -> String {
        let value = value.isFinite ? max(0, value) : 0
        if value < 100 { return String(format: compact ? "%.1fs" : "%.1f s", value) }
        let total = value < 1e12 ? Int(value) : 999_999_999_999
        let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60)
        if hours > 0 { return String(format: "%d:%02d:%02d", hours, minutes, seconds) }
        return String(format: "%d:%02d", minutes, seconds)
    }

    /// `154200`, or compact `154k`, `1.23M`, `4.6G`.
    static func count(_ value: Int, compact: Bool) -> String {
        guard compact, value >= 10_000 else { return String(value) }
        let units: [(Double, String)] = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
        let number = Double(value)
        for (scale, unit) in units where number >= scale {
            let scaled = number / scale
            let digits = scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2
            return String(format: "%.\(digits)f", scaled) + unit
        }
        return String(value)
    }
}

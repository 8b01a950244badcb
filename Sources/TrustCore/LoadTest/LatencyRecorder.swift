import Histogram

/// Round-trip latencies in microseconds, in an HDR histogram: constant
/// memory and constant-time recording whatever the number of samples, and
/// percentiles accurate to 3 significant digits.
public struct LatencyRecorder: Sendable {
    /// One hour: longer than any timeout the options accept, so nothing a
    /// run can measure is out of range (larger values are clamped anyway).
    static let highestMicroseconds: UInt64 = 3_600_000_000

    private(set) var histogram = Histogram<UInt64>(
        highestTrackableValue: LatencyRecorder.highestMicroseconds, numberOfSignificantValueDigits: .three)

    public init() {}

    @inline(__always)
    mutating func record(nanoseconds: Int64) {
        let micros = UInt64(max(0, nanoseconds) / 1_000)
        histogram.record(min(micros, LatencyRecorder.highestMicroseconds))
    }

    /// `count` samples of `microseconds` (a decoded histogram's bucket).
    public mutating func record(microseconds: UInt64, count: UInt64 = 1) {
        histogram.record(min(microseconds, LatencyRecorder.highestMicroseconds), count: count)
    }

    public mutating func add(_ other: LatencyRecorder) { histogram.add(other.histogram) }

    public var count: UInt64 { histogram.totalCount }

    /// Every figure is a bucket's edge, as HdrHistogram reports it (the
    /// highest value equivalent to the percentile's; the lowest for the
    /// min), never an exact sample: so a histogram that went through the
    /// V2 encoding, or was merged, reports exactly the same numbers.
    public var summary: LatencySummary {
        guard histogram.totalCount > 0 else { return LatencySummary() }
        return LatencySummary(
            p50: value(atPercentile: 50), p90: value(atPercentile: 90), p99: value(atPercentile: 99),
            p999: value(atPercentile: 99.9), max: histogram.max,
            min: histogram.lowestEquivalentForValue(histogram.min), mean: histogram.mean)
    }

    /// Percentile `p` (0-100) in microseconds, 0 without samples.
    public func value(atPercentile p: Double) -> UInt64 {
        guard histogram.totalCount > 0 else { return 0 }
        if p >= 100 { return histogram.max }
        return histogram.highestEquivalentForValue(histogram.valueAtPercentile(p))
    }
}

/// Latency percentiles of a run, in microseconds (all zero without samples).
public struct LatencySummary: Sendable, Equatable {
    public var p50: UInt64 = 0
    public var p90: UInt64 = 0
    public var p99: UInt64 = 0
    public var p999: UInt64 = 0
    public var max: UInt64 = 0
    public var min: UInt64 = 0
    public var mean: Double = 0
}

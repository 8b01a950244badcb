import Synchronization

/// One `--interval` of a run, all loops together: what `--interval` prints,
/// `--json-stream` streams and `--hdr-out` logs. Times are seconds since the
/// run started (the warm-up, if any, comes before the first interval).
public struct LoadInterval: Sendable {
    public var index: Int
    public var startSeconds: Double
    public var endSeconds: Double
    public var ok: Int
    public var failed: Int
    /// Latency of the interval's verified round trips (corrected, from the
    /// scheduled send time, with --rate), microseconds.
    public var latency: LatencySummary
    /// With --rate: from the actual send.
    public var uncorrected: LatencySummary?
    /// The interval's histogram, HdrHistogram V2 compressed, base64.
    public var hdr: String

    public var seconds: Double { max(endSeconds - startSeconds, 0) }
    public var roundTripsPerSecond: Double { seconds > 0 ? Double(ok) / seconds : 0 }
}

/// Where the loops hand in their share of each interval; an interval is
/// complete once every loop has handed in its share or finished before it.
/// Touched once per interval per loop, never per round trip.
final class LoadIntervalCollector: Sendable {
    struct Part: Sendable {
        var index: Int
        var ok: Int
        var failed: Int
        var endNs: Int64
        var latency: LatencyRecorder
        var uncorrected: LatencyRecorder?
    }

    private struct Pending: Sendable {
        var parts = 0
        var ok = 0
        var failed = 0
        var endNs: Int64 = 0
        var latency = LatencyRecorder()
        var uncorrected: LatencyRecorder?
    }

    private struct State {
        var pending: [Int: Pending] = [:]
        /// For each loop that finished: the index of its last interval.
        var finishedAt: [Int] = []
        var next = 0
        var ready: [(Int, Pending)] = []
    }

    private let loops: Int
    let firstStartNs: Int64
    let intervalNs: Int64
    let runStartNs: Int64
    private let state = Mutex(State())
    private let waker: EventLoop.Waker

    init(loops: Int, runStartNs: Int64, firstStartNs: Int64, intervalNs: Int64, waker: EventLoop.Waker) {
        self.loops = loops
        self.runStartNs = runStartNs
        self.firstStartNs = firstStartNs
        self.intervalNs = intervalNs
        self.waker = waker
    }

    /// A loop's share of interval `part.index`.
    func submit(_ part: Part) {
        let woke = state.withLock { state -> Bool in
            var pending = state.pending[part.index] ?? Pending()
            pending.parts += 1
            pending.ok += part.ok
            pending.failed += part.failed
            pending.endNs = max(pending.endNs, part.endNs)
            pending.latency.add(part.latency)
            if let u = part.uncorrected {
                var merged = pending.uncorrected ?? LatencyRecorder()
                merged.add(u)
                pending.uncorrected = merged
            }
            state.pending[part.index] = pending
            return advance(&state)
        }
        if woke { waker.wake() }
    }

    /// A loop is done; `lastIndex` is its last interval (-1: none).
    func finish(lastIndex: Int) {
        let woke = state.withLock { state -> Bool in
            state.finishedAt.append(lastIndex)
            return advance(&state)
        }
        if woke { waker.wake() }
    }

    /// The intervals completed since the last call, in order; summarised
    /// and encoded here, on the caller's thread, not on a loop's.
    func drain() -> [LoadInterval] {
        let ready = state.withLock { state in
            defer { state.ready.removeAll() }
            return state.ready
        }
        // A last interval cut short with nothing in it (the loops finished
        // just past a boundary) says nothing: it is left out.
        return ready.filter { $0.1.ok + $0.1.failed > 0 || $0.1.endNs - startNs($0.0) >= intervalNs }
            .map { makeInterval($0.0, $0.1) }
    }

    private func advance(_ state: inout State) -> Bool {
        var any = false
        while let pending = state.pending[state.next] {
            let index = state.next
            let gone = state.finishedAt.filter { $0 < index }.count
            guard pending.parts + gone >= loops else { break }
            state.pending[index] = nil
            state.ready.append((index, pending))
            state.next += 1
            any = true
        }
        return any
    }

    private func startNs(_ index: Int) -> Int64 {
        LoadSchedule.adding(firstStartNs, intervalNs.multipliedReportingOverflow(by: Int64(index)).partialValue)
    }

    private func makeInterval(_ index: Int, _ p: Pending) -> LoadInterval {
        let startNs = startNs(index)
        return LoadInterval(
            index: index, startSeconds: Double(startNs - runStartNs) / 1e9,
            endSeconds: Double(max(p.endNs, startNs) - runStartNs) / 1e9, ok: p.ok, failed: p.failed,
            latency: p.latency.summary, uncorrected: p.uncorrected?.summary, hdr: HdrHistogramCodec.encode(p.latency))
    }
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// What one loop keeps for the measuring options: the end of the warm-up,
/// the interval under way and its own histogram. Everything here is
/// touched per round trip only through `recordCompletion`.
struct LoadEngineMeasure {
    /// Round trips that complete before this moment are discarded (warm-up);
    /// 0 without a warm-up.
    var from: Int64 = 0
    /// The next moment `measureTick` has something to do (`never`: none).
    var nextAt = LoadSchedule.never
    var started = false
    var intervalNs: Int64 = 0
    var index = 0
    var okMark = 0
    var failedMark = 0
    var latency = LatencyRecorder()
    var uncorrected = LatencyRecorder()
    var collector: LoadIntervalCollector?
    /// `--source-ip`: local addresses taken in turn, from `nextSource`.
    var sources: [cnet_address] = []
    var nextSource = 0

    var keepsIntervals: Bool { collector != nil }
}

/// Additions to a loop's tally for the measuring options (summed like it).
public struct LoadTallyExtra: Sendable {
    /// Round trips verified during the warm-up, not counted.
    public var warmupDiscarded = 0
    /// Bytes moved during the warm-up (left out of the wire rate).
    public var warmupBytes: UInt64 = 0
    /// With --rate: latency from each request's actual send.
    public var uncorrected = LatencyRecorder()

    mutating func add(_ other: LoadTallyExtra) {
        warmupDiscarded += other.warmupDiscarded
        warmupBytes &+= other.warmupBytes
        uncorrected.add(other.uncorrected)
    }
}

extension LoadTestEngine {
    /// The local address of the next connection, round-robin.
    func nextSource() -> cnet_address {
        let source = measure.sources[measure.nextSource % measure.sources.count]
        measure.nextSource = (measure.nextSource + 1) % measure.sources.count
        return source
    }

    /// `cnet_connect_start_from` takes generic sockaddrs: both storages
    /// are alive for the call and their lengths are what the resolver
    /// wrote, so viewing them as sockaddr is safe.
    static func connectStart(_ address: inout sockaddr_storage, _ length: socklen_t, from local: cnet_address) -> Int32
    {
        var local = local
        return withUnsafePointer(to: &address) { remote in
            remote.withMemoryRebound(to: sockaddr.self, capacity: 1) { remote in
                withUnsafePointer(to: &local.addr) { source in
                    source.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        cnet_connect_start_from(remote, length, $0, local.len)
                    }
                }
            }
        }
    }

    /// Sets the warm-up's end and the first interval at the run's start.
    func beginMeasuring() {
        if let warmup = options.measuring.warmup {
            measure.from = LoadSchedule.adding(start, LoadSchedule.nanoseconds(seconds: warmup))
        } else {
            measure.from = start
            measure.started = true
        }
        measure.intervalNs = options.measuring.interval.map(LoadSchedule.nanoseconds(seconds:)) ?? 0
        if !measure.started {
            measure.nextAt = measure.from
        } else if measure.keepsIntervals {
            measure.nextAt = LoadSchedule.adding(measure.from, measure.intervalNs)
        }
    }

    /// A verified round trip: counted and its latencies recorded, unless it
    /// finished during the warm-up.
    @inline(__always)
    func recordCompletion(_ s: Int) {
        if now < measure.from {
            tally.extra.warmupDiscarded += 1
            return
        }
        tally.ok += 1
        let corrected = now - slots[s].startedAt
        tally.latency.record(nanoseconds: corrected)
        let openLoop = schedule.isOpenLoop
        if openLoop { tally.extra.uncorrected.record(nanoseconds: now - slots[s].sentAt) }
        if measure.keepsIntervals {
            measure.latency.record(nanoseconds: corrected)
            if openLoop { measure.uncorrected.record(nanoseconds: now - slots[s].sentAt) }
        }
    }

    /// The warm-up ended, or an interval did.
    func measureTick() {
        if !measure.started {
            measure.started = true
            tally.extra.warmupBytes = tally.bytesSent &+ tally.bytesReceived
            measure.okMark = tally.ok
            measure.failedMark = tally.failed
            measure.nextAt =
                measure.keepsIntervals ? LoadSchedule.adding(measure.from, measure.intervalNs) : LoadSchedule.never
            return
        }
        submitInterval(endNs: measure.nextAt)
        measure.index += 1
        measure.nextAt = LoadSchedule.adding(measure.nextAt, measure.intervalNs)
    }

    /// The loop is done: its last, partial interval and its finish.
    func finishMeasuring() {
        guard let collector = measure.collector else { return }
        if measure.started {
            submitInterval(endNs: now)
            collector.finish(lastIndex: measure.index)
        } else {
            collector.finish(lastIndex: -1)
        }
        measure.nextAt = LoadSchedule.never
    }

    private func submitInterval(endNs: Int64) {
        guard let collector = measure.collector else { return }
        collector.submit(
            .init(
                index: measure.index, ok: tally.ok - measure.okMark, failed: tally.failed - measure.failedMark,
                endNs: endNs, latency: measure.latency,
                uncorrected: schedule.isOpenLoop ? measure.uncorrected : nil))
        measure.okMark = tally.ok
        measure.failedMark = tally.failed
        measure.latency = LatencyRecorder()
        measure.uncorrected = LatencyRecorder()
    }
}

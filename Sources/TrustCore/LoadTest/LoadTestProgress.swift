import Synchronization

/// Round trips finished so far across all loops, for the progress display.
/// Each loop publishes what it counted since its last publication every
/// `LoadTestEngine.progressIntervalNs`, never per message: the atomics are
/// touched a few times a second, not on the hot path.
final class LoadTestProgress: Sendable {
    private let okCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)

    func add(ok: Int, failed: Int) {
        if ok != 0 { okCount.add(ok, ordering: .relaxed) }
        if failed != 0 { failedCount.add(failed, ordering: .relaxed) }
    }

    var ok: Int { okCount.load(ordering: .relaxed) }
    var failed: Int { failedCount.load(ordering: .relaxed) }
}

import CNetShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Watches a run from the thread that started it: the signals that stop
/// it, the loops finishing, and the progress display's frames — one
/// `EventLoop` of its own, so the thread sleeps until one of them happens.
///
/// Signals (SIGINT, SIGTERM from the CLI) are read from a signalfd that
/// exists from the moment they are blocked (`SignalEvents` does both in one
/// call), and this thread reads it as soon as one arrives, so Ctrl-C stops
/// the run at any moment. Create the monitor before starting the loops' threads: they
/// inherit the blocked mask, so the signals reach the signalfd and no
/// thread's default action. Once the run is over the calling thread's mask
/// is restored, and a signal that comes after that acts as usual.
final class LoadTestMonitor {
    private static let signalToken: UInt64 = 1

    private let loop: EventLoop
    private let signals: SignalEvents?
    private var previousMask = sigset_t()
    private let stopRequest: StopRequest
    private var display: ProgressDisplay?
    private let finishedLoops = FinishedLoops()
    /// `--interval`: completed intervals are handed to `onInterval` here,
    /// on the calling thread, the progress display cleared first.
    var intervals: LoadIntervalCollector?
    var onInterval: ((LoadInterval) -> Void)?
    private(set) var delivered: [LoadInterval] = []

    var waker: EventLoop.Waker { loop.waker }

    /// Loops finished so far, counted by the loops' threads.
    private final class FinishedLoops: Sendable {
        private let count = Atomic<Int>(0)
        func increment() { count.add(1, ordering: .releasing) }
        var value: Int { count.load(ordering: .acquiring) }
    }

    init(stoppingOn signalNumbers: [Int32], stopRequest: StopRequest, display: ProgressDisplay?) throws(TrustError) {
        self.stopRequest = stopRequest
        self.display = display
        loop = try EventLoop(maxEvents: 8)
        if signalNumbers.isEmpty {
            signals = nil
            return
        }
        previousMask = LoadTestMonitor.currentMask()
        let signals = SignalEvents(signalNumbers)
        try signals.activate()
        self.signals = signals
        if let errno = loop.add(signals.fd, .read, token: LoadTestMonitor.signalToken) {
            LoadTestMonitor.setMask(previousMask)
            throw TrustError.system(errno, operation: "epoll_ctl(signalfd)")
        }
    }

    /// What each loop's thread runs as it exits (`LoopThread`'s `onExit`):
    /// counts it as finished and wakes the monitor. Counted rather than
    /// asked of the thread, because `onExit` runs before `join` would
    /// return: a monitor that woke and polled the threads could miss the
    /// last one and sleep forever.
    var loopFinished: @Sendable () -> Void {
        let waker = loop.waker
        let finished = finishedLoops
        return {
            finished.increment()
            waker.wake()
        }
    }

    /// Returns when every thread has finished. A stop signal is passed on
    /// to the loops (`StopRequest` and their wakers); they stop at once.
    /// Throws if the monitor's own event loop fails, once the loops have
    /// finished by themselves.
    func watch(_ threads: [LoopThread], wakers: [EventLoop.Waker]) throws(TrustError) {
        defer { if signals != nil { LoadTestMonitor.setMask(previousMask) } }
        while finishedLoops.value < threads.count {
            let now = MonotonicClock.nanoseconds()
            display?.tick(now: now)
            let ready: Int
            do {
                ready = try loop.wait(timeoutMs: waitMilliseconds(now: now))
            } catch {
                for thread in threads { thread.join() }
                throw error
            }
            for i in 0..<ready {
                let token = loop.token(at: i)
                if token == EventLoop.wakeToken {
                    loop.drainWakeups()
                } else if token == LoadTestMonitor.signalToken {
                    readSignals(wakers: wakers)
                }
            }
            deliverIntervals()
        }
        // Each has run its body and is about to signal: a short wait.
        for thread in threads { thread.join() }
        // A signal that came as the last loop finished still counts.
        readSignals(wakers: [])
        display?.clear()
        deliverIntervals()
    }

    private func deliverIntervals() {
        guard let intervals else { return }
        let ready = intervals.drain()
        guard !ready.isEmpty else { return }
        display?.clear()
        for interval in ready { onInterval?(interval) }
        delivered += ready
    }

    private func readSignals(wakers: [EventLoop.Waker]) {
        guard let signals else { return }
        // Bounded: the signalfd is non-blocking and each read takes one.
        while let signal = signals.next() {
            stopRequest.request(signal: signal)
            for waker in wakers { waker.wake() }
        }
    }

    private func waitMilliseconds(now: Int64) -> Int32 {
        guard let display else { return -1 }
        return Int32(clamping: max(0, (display.nextFrameAt - now + 999_999) / 1_000_000))
    }

    /// The calling thread's signal mask.
    private static func currentMask() -> sigset_t {
        var mask = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &mask)
        return mask
    }

    private static func setMask(_ mask: sigset_t) {
        var mask = mask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }
}

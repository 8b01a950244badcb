#if canImport(Glibc)
    import Glibc
#endif

/// The bounded queue between the callers of `LogWriter` (event loops) and
/// its writer thread, and the writer's counters.
///
/// `@unchecked Sendable` is sound because every mutable property is read and
/// written only with `mutex` held.
final class LogWriterQueue: @unchecked Sendable {
    /// What the writer takes at one wake-up.
    struct Batch {
        /// Lines queued since the last batch.
        var lines: UInt64
        /// Lines refused (queue full) since the last batch.
        var refused: UInt64
        var reopen: Bool
        var number: UInt64
    }

    let maxQueuedLines: Int
    let maxQueuedBytes: Int

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled when there is work: lines, refused lines to report, a
    /// reopen, or stop.
    private let workAvailable: UnsafeMutablePointer<pthread_cond_t>
    /// Broadcast after each batch and when the writer exits, for `flush`
    /// and `close`.
    private let batchCompleted: UnsafeMutablePointer<pthread_cond_t>

    // Guarded by `mutex`.
    private var pending: [UInt8] = []
    private var pendingLines = 0
    private var refusedSinceBatch: UInt64 = 0
    private var reopenRequested = false
    private var stopRequested = false
    private var writerExited = false
    private var batchesTaken: UInt64 = 0
    private var batchesCompleted: UInt64 = 0
    private var counters = LogWriter.Statistics()

    init(maxQueuedLines: Int, maxQueuedBytes: Int) {
        self.maxQueuedLines = maxQueuedLines
        self.maxQueuedBytes = maxQueuedBytes
        (mutex, workAvailable, batchCompleted) = Self.makeSynchronization()
        pending.reserveCapacity(min(maxQueuedBytes, 64 * 1024))
    }

    deinit {
        Self.destroySynchronization(mutex, workAvailable, batchCompleted)
    }

    // MARK: Callers

    func enqueue(_ line: [UInt8]) -> Bool {
        lock()
        if stopRequested {
            unlock()
            return false
        }
        if pendingLines >= maxQueuedLines || pending.count + line.count + 1 > maxQueuedBytes {
            refusedSinceBatch += 1
            counters.linesRefused += 1
            // A line too big for an empty queue finds the writer asleep; wake
            // it so the drop is reported.
            let writerMaySleep = pending.isEmpty
            unlock()
            if writerMaySleep { pthread_cond_signal(workAvailable) }
            return false
        }
        // The writer only sleeps when the queue is empty, so only the first
        // line after it emptied needs to wake it.
        let wasIdle = pending.isEmpty
        pending.append(contentsOf: line)
        pending.append(UInt8(ascii: "\n"))
        pendingLines += 1
        unlock()
        if wasIdle { pthread_cond_signal(workAvailable) }
        return true
    }

    func requestReopen() {
        lock()
        reopenRequested = true
        unlock()
        pthread_cond_signal(workAvailable)
    }

    /// Returns true for the one caller that should wait for the writer.
    func requestStop() -> Bool {
        lock()
        let first = !stopRequested
        stopRequested = true
        unlock()
        pthread_cond_signal(workAvailable)
        return first
    }

    var statistics: LogWriter.Statistics {
        lock()
        defer { unlock() }
        return counters
    }

    /// Waits until every line queued before the call has been handled, or
    /// `timeoutNanoseconds` pass; true when everything was handled.
    func waitUntilHandled(timeoutNanoseconds: Int64) -> Bool {
        var deadline = Self.monotonicDeadline(afterNanoseconds: timeoutNanoseconds)
        lock()
        defer { unlock() }
        // A batch in flight must finish; anything still queued goes into the
        // next batch the writer takes.
        var target = batchesTaken
        if !pending.isEmpty || refusedSinceBatch > 0 || reopenRequested { target += 1 }
        // Bounded by the deadline: timedwait returns ETIMEDOUT after it.
        while batchesCompleted < target && !writerExited {
            if pthread_cond_timedwait(batchCompleted, mutex, &deadline) == ETIMEDOUT { break }
        }
        return batchesCompleted >= target
    }

    /// Waits until the writer thread has left its loop, or
    /// `timeoutNanoseconds` pass; true when it has.
    func waitForWriterExit(timeoutNanoseconds: Int64) -> Bool {
        var deadline = Self.monotonicDeadline(afterNanoseconds: timeoutNanoseconds)
        lock()
        defer { unlock() }
        while !writerExited {
            if pthread_cond_timedwait(batchCompleted, mutex, &deadline) == ETIMEDOUT { break }
        }
        return writerExited
    }

    // MARK: Writer thread

    /// Sleeps until there is work, then swaps the queued lines into `lines`
    /// (which must be empty; its capacity becomes the queue's). Returns nil
    /// once stop was requested and nothing is left.
    func takeBatch(into lines: inout [UInt8]) -> Batch? {
        lock()
        defer { unlock() }
        while pending.isEmpty && refusedSinceBatch == 0 && !reopenRequested && !stopRequested {
            pthread_cond_wait(workAvailable, mutex)
        }
        if pending.isEmpty && refusedSinceBatch == 0 && !reopenRequested { return nil }
        swap(&lines, &pending)
        batchesTaken += 1
        let batch = Batch(
            lines: UInt64(pendingLines), refused: refusedSinceBatch, reopen: reopenRequested, number: batchesTaken)
        pendingLines = 0
        refusedSinceBatch = 0
        reopenRequested = false
        return batch
    }

    /// Records what the writer did with batch `number` and wakes `flush`
    /// callers; returns the counters after the update.
    func completeBatch(_ number: UInt64, update: (inout LogWriter.Statistics) -> Void) -> LogWriter.Statistics {
        lock()
        defer { unlock() }
        update(&counters)
        batchesCompleted = number
        pthread_cond_broadcast(batchCompleted)
        return counters
    }

    func markWriterExited() {
        lock()
        writerExited = true
        pthread_cond_broadcast(batchCompleted)
        unlock()
    }

    // MARK: pthread plumbing

    private func lock() { pthread_mutex_lock(mutex) }
    private func unlock() { pthread_mutex_unlock(mutex) }

    /// Safe: the pointers are allocated and initialised here, used only by
    /// this object, and destroyed once in `deinit` when no thread can use
    /// them any more (the writer thread holds a reference until it exits).
    private static func makeSynchronization() -> (
        UnsafeMutablePointer<pthread_mutex_t>, UnsafeMutablePointer<pthread_cond_t>,
        UnsafeMutablePointer<pthread_cond_t>
    ) {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // flush's deadline must not move when the wall clock is set.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        let work = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        work.initialize(to: pthread_cond_t())
        pthread_cond_init(work, &attributes)
        let completed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        completed.initialize(to: pthread_cond_t())
        pthread_cond_init(completed, &attributes)
        pthread_condattr_destroy(&attributes)
        return (mutex, work, completed)
    }

    /// Safe: called once, from `deinit`, after every other use.
    private static func destroySynchronization(
        _ mutex: UnsafeMutablePointer<pthread_mutex_t>, _ work: UnsafeMutablePointer<pthread_cond_t>,
        _ completed: UnsafeMutablePointer<pthread_cond_t>
    ) {
        pthread_cond_destroy(completed)
        completed.deallocate()
        pthread_cond_destroy(work)
        work.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private static func monotonicDeadline(afterNanoseconds nanoseconds: Int64) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Int64(now.tv_nsec) + nanoseconds % 1_000_000_000
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(nanoseconds / 1_000_000_000) + Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        return deadline
    }
}

import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Owns the log file and one background thread that writes to it.
///
/// Callers (event loops) only append a formatted line to a bounded in-memory
/// queue under a short lock: `enqueue` never touches the disk. When the
/// queue is full the line is dropped and counted, and the writer later
/// writes one `log_lines_dropped` warning with the count. The writer takes
/// everything queued at each wake-up and writes it with one `write` call.
/// It sleeps on a condition variable, so an idle writer uses no CPU.
///
/// `reopen()` (SIGHUP, after log rotation renamed the file) asks the writer
/// thread to close and reopen the path; the caller does not wait for it.
public final class LogWriter: Sendable {
    /// Counters since the writer started.
    public struct Statistics: Sendable, Equatable {
        /// Lines (including the writer's own warnings) that reached the file.
        public var linesWritten: UInt64 = 0
        /// Lines refused because the queue was full.
        public var linesDropped: UInt64 = 0
        /// Failed `write` calls; their batch is lost.
        public var writeErrors: UInt64 = 0
        /// Failed reopens; the writer keeps the file it had.
        public var reopenFailures: UInt64 = 0
        /// The errno of the last write or reopen failure.
        public var lastErrno: Errno?

        public init() {}
    }

    public static let defaultMaxQueuedLines = 8192
    public static let defaultMaxQueuedBytes = 4 << 20

    /// The log file's path, reopened by `reopen()`.
    public let path: String
    private let state: LogWriterState
    private let thread: pthread_t

    /// Opens (creating if needed, mode 0644, appending) the file at `path` and
    /// starts the writer thread. The parent directory must exist.
    ///
    /// - Throws: `TrustError` of kind `.cannotCreate` naming the path and the
    ///   errno when the file cannot be opened (exit 73).
    public init(
        path: String,
        maxQueuedLines: Int = LogWriter.defaultMaxQueuedLines,
        maxQueuedBytes: Int = LogWriter.defaultMaxQueuedBytes
    ) throws(TrustError) {
        let descriptor = LogWriterState.openLogFile(path)
        guard descriptor >= 0 else {
            let errno = Errno(rawValue: descriptor)
            throw TrustError(
                kind: .cannotCreate,
                message: "cannot open log file \(path): \(errno.description)",
                errno: errno,
                operation: "open \(path)"
            )
        }
        self.path = path
        state = LogWriterState(
            path: path,
            descriptor: descriptor,
            maxQueuedLines: max(1, maxQueuedLines),
            maxQueuedBytes: max(1, maxQueuedBytes)
        )
        // Born with SIGINT/SIGTERM/SIGHUP blocked, like every helper thread:
        // only the server's signalfd may take them.
        let started = state
        switch SignalEvents.withTerminationSignalsBlocked({ Self.startWriterThread(started) }) {
        case .success(let thread):
            self.thread = thread
        case .failure(let error):
            state.closeDescriptor()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Queues one line (without its newline; the writer adds it). Never
    /// blocks on the disk. Returns false when the line was dropped: the
    /// queue is full, or the writer is closed.
    @discardableResult
    public func enqueue(_ line: [UInt8]) -> Bool {
        state.enqueue(line)
    }

    /// Asks the writer thread to close and reopen `path` before its next
    /// write (log rotation). Returns at once; safe from any thread, but not
    /// from inside a signal handler (it takes a mutex): deliver SIGHUP to a
    /// loop first (signalfd / eventfd), then call this.
    public func reopen() {
        state.requestReopen()
    }

    /// Waits until every line queued before this call (and a pending reopen)
    /// has been handled by the writer, or `timeout` passes. Returns true when
    /// everything was handled. For shutdown and tests; blocks the caller.
    @discardableResult
    public func flush(timeout: Duration) -> Bool {
        let parts = timeout.components
        // Clamped to about 136 years so the arithmetic cannot overflow.
        let seconds = min(max(parts.seconds, 0), Int64(UInt32.max))
        let nanoseconds = seconds * 1_000_000_000 + max(0, parts.attoseconds / 1_000_000_000)
        return state.waitUntilHandled(timeoutNanoseconds: nanoseconds)
    }

    /// Writes what is queued, stops the writer thread and closes the file.
    /// Later `enqueue` calls return false. Waits for the last write: call
    /// `flush(timeout:)` first when shutdown must be bounded in time.
    /// Idempotent; the first caller waits for the thread.
    public func close() {
        if state.requestStop() {
            Self.join(thread)
            state.closeDescriptor()
        }
    }

    public var statistics: Statistics {
        state.statistics
    }

    /// Safe: the one retain taken here is handed to the new thread, which
    /// balances it with `takeRetainedValue` before doing anything else; if
    /// the thread is not created, the retain is released here.
    private static func startWriterThread(_ state: LogWriterState) -> Result<pthread_t, TrustError> {
        let context = Unmanaged.passRetained(state).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                let state = Unmanaged<LogWriterState>.fromOpaque(context!).takeRetainedValue()
                state.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<LogWriterState>.fromOpaque(context).release()
            let errno = Errno(rawValue: result)
            return .failure(
                TrustError(
                    kind: .system,
                    message: "cannot start the log writer thread: \(errno.description)",
                    errno: errno,
                    operation: "pthread_create"
                ))
        }
        return .success(thread)
    }

    private static func join(_ thread: pthread_t) {
        pthread_join(thread, nil)
    }
}

/// The queue shared by callers and the writer thread.
///
/// `@unchecked Sendable` is sound because every mutable property except
/// `descriptor` and `lineBroken` is read and written only with `mutex` held,
/// and those two belong to the writer thread from `pthread_create` until
/// `pthread_join` (the init before creation and `closeDescriptor` after the
/// join are ordered by those calls).
final class LogWriterState: @unchecked Sendable {
    let path: String
    let maxQueuedLines: Int
    let maxQueuedBytes: Int
    private let processID = getpid()

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled when there is work: lines, dropped lines to report, a
    /// reopen, or stop.
    private let workAvailable: UnsafeMutablePointer<pthread_cond_t>
    /// Broadcast after each batch, for `flush`.
    private let batchCompleted: UnsafeMutablePointer<pthread_cond_t>

    // Guarded by `mutex`.
    private var pending: [UInt8] = []
    private var pendingLines = 0
    private var droppedSinceReport: UInt64 = 0
    private var reopenRequested = false
    private var stopRequested = false
    private var writerExited = false
    private var batchesTaken: UInt64 = 0
    private var batchesCompleted: UInt64 = 0
    private var counters = LogWriter.Statistics()

    // Writer thread only.
    private var descriptor: Int32
    /// A failed write may have left half a line in the file; the next write
    /// starts with a newline so later lines stay parseable.
    private var lineBroken = false

    init(path: String, descriptor: Int32, maxQueuedLines: Int, maxQueuedBytes: Int) {
        self.path = path
        self.descriptor = descriptor
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
            droppedSinceReport += 1
            counters.linesDropped += 1
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

    /// Returns true for the one caller that should join the thread.
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

    func waitUntilHandled(timeoutNanoseconds: Int64) -> Bool {
        var deadline = Self.monotonicDeadline(afterNanoseconds: timeoutNanoseconds)
        lock()
        defer { unlock() }
        // A batch in flight must finish; anything still queued goes into the
        // next batch the writer takes.
        var target = batchesTaken
        if !pending.isEmpty || droppedSinceReport > 0 || reopenRequested { target += 1 }
        // Bounded by the deadline: timedwait returns ETIMEDOUT after it.
        while batchesCompleted < target && !writerExited {
            if pthread_cond_timedwait(batchCompleted, mutex, &deadline) == ETIMEDOUT { break }
        }
        return batchesCompleted >= target
    }

    // MARK: Writer thread

    func run() {
        var batch: [UInt8] = []
        lock()
        while true {
            while pending.isEmpty && droppedSinceReport == 0 && !reopenRequested && !stopRequested {
                pthread_cond_wait(workAvailable, mutex)
            }
            if stopRequested && pending.isEmpty && droppedSinceReport == 0 && !reopenRequested {
                break
            }
            swap(&batch, &pending)
            var batchLines = UInt64(pendingLines)
            pendingLines = 0
            let dropped = droppedSinceReport
            droppedSinceReport = 0
            let reopen = reopenRequested
            reopenRequested = false
            batchesTaken += 1
            let batchNumber = batchesTaken
            unlock()

            // Reopen first: lines logged after a SIGHUP belong in the new file.
            if reopen { reopenFile() }
            if dropped > 0 {
                appendWarning(to: &batch, event: "log_lines_dropped", fields: [("count", .stringConvertible(dropped))])
                batchLines += 1
            }
            let writeErrno = batch.isEmpty ? 0 : writeBatch(batch)
            batch.removeAll(keepingCapacity: true)

            lock()
            if writeErrno == 0 {
                counters.linesWritten += batchLines
            } else {
                counters.writeErrors += 1
                counters.lastErrno = Errno(rawValue: writeErrno)
            }
            batchesCompleted = batchNumber
            pthread_cond_broadcast(batchCompleted)
        }
        writerExited = true
        pthread_cond_broadcast(batchCompleted)
        unlock()
    }

    /// Called only after the writer thread was joined (or never started).
    func closeDescriptor() {
        if descriptor >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = -1
        }
    }

    private func reopenFile() {
        let reopened = Self.openLogFile(path)
        if reopened >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = reopened
            lineBroken = false
            return
        }
        // Keep writing to the file we have (even if it was renamed) rather
        // than losing lines, and say so in it.
        let errno = Errno(rawValue: reopened)
        lock()
        counters.reopenFailures += 1
        counters.lastErrno = errno
        unlock()
        var warning: [UInt8] = []
        appendWarning(
            to: &warning, event: "log_reopen_failed", fields: [("errno", .string(errno.name)), ("path", .string(path))])
        if writeBatch(warning) == 0 {
            lock()
            counters.linesWritten += 1
            unlock()
        }
    }

    /// The writer's own lines (about the log itself) use the handler's format.
    private func appendWarning(
        to buffer: inout [UInt8], event: String, fields: [(key: String, value: Logger.MetadataValue)]
    ) {
        var line = JSONLineBuffer(capacity: 128)
        line.appendLineHeader(timestamp: .now(), level: .warning, event: event, pid: processID)
        for field in fields {
            line.appendField(key: field.key, value: field.value)
        }
        line.closeObject()
        buffer.append(contentsOf: line.bytes)
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Returns 0 or the errno of the failed write.
    private func writeBatch(_ batch: [UInt8]) -> Int32 {
        if lineBroken {
            let newline: [UInt8] = [UInt8(ascii: "\n")]
            let result = newline.withUnsafeBytes { Self.writeFully(descriptor, $0) }
            if result != 0 { return result }
            lineBroken = false
        }
        let result = batch.withUnsafeBytes { Self.writeFully(descriptor, $0) }
        if result != 0 { lineBroken = true }
        return result
    }

    /// Writes all of `buffer`, usually in one `write` call; regular files
    /// only write less on a full disk or a signal. Returns 0 or an errno.
    /// Safe: every pointer passed to `write` is `base + offset` with
    /// `offset < buffer.count` and length `buffer.count - offset`.
    private static func writeFully(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) -> Int32 {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var offset = 0
        // Each successful round makes progress; the cap bounds a descriptor
        // that keeps being interrupted.
        var rounds = 0
        while offset < buffer.count {
            rounds += 1
            if rounds > 1000 { return EIO }
            let written = write(descriptor, base + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return written < 0 ? errno : EIO
            }
        }
        return 0
    }

    /// Returns a descriptor or `-errno`.
    static func openLogFile(_ path: String) -> Int32 {
        // EINTR is only possible on odd file systems; retry a few times.
        for _ in 0..<16 {
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return descriptor }
            if errno != EINTR { return -errno }
        }
        return -EINTR
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

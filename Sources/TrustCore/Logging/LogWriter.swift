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
/// A write that fails (full disk, file size limit, I/O error) loses its
/// lines, never part of one: the file stays valid JSON lines. The loss is
/// counted (`statistics.linesDropped`), reported in the log once writes work
/// again, and announced on stderr at most once a minute.
///
/// `reopen()` (SIGHUP, after log rotation renamed the file) asks the writer
/// thread to close and reopen the path; the caller does not wait for it.
public final class LogWriter: Sendable {
    /// Counters since the writer started.
    public struct Statistics: Sendable, Equatable {
        /// Lines (including the writer's own warnings) that reached the file.
        public var linesWritten: UInt64 = 0
        /// Lines `enqueue` refused because the queue was full.
        public var linesRefused: UInt64 = 0
        /// Queued lines a failed write lost.
        public var linesLost: UInt64 = 0
        /// Failed writes (each loses the lines of its batch that did not fit).
        public var writeErrors: UInt64 = 0
        /// Failed reopens; the writer keeps the file it had.
        public var reopenFailures: UInt64 = 0
        /// The errno of the last failed write.
        public var lastErrno: Errno?

        /// Lines that never reached the file: refused plus lost. The server
        /// reports it as `log_lines_dropped` in `server_stopped`.
        public var linesDropped: UInt64 { linesRefused + linesLost }

        public init() {}
    }

    public static let defaultMaxQueuedLines = 8192
    public static let defaultMaxQueuedBytes = 4 << 20

    /// The log file's path, reopened by `reopen()`.
    public let path: String
    private let queue: LogWriterQueue
    private let thread: pthread_t

    /// Opens (creating if needed, mode 0644, appending) the regular file at
    /// `path` and starts the writer thread. The parent directory must exist.
    /// Never blocks: a FIFO, device, socket or directory at `path` is refused.
    ///
    /// Also sets SIGXFSZ to ignored, process-wide: a log that reaches the file
    /// size limit (`ulimit -f`) must fail its writes with `EFBIG`, not kill
    /// the process.
    ///
    /// - Throws: `TrustError` of kind `.cannotCreate` naming the path and the
    ///   errno or the kind of file found when the file cannot be opened
    ///   (exit 73).
    public init(
        path: String,
        maxQueuedLines: Int = LogWriter.defaultMaxQueuedLines,
        maxQueuedBytes: Int = LogWriter.defaultMaxQueuedBytes
    ) throws(TrustError) {
        let file: LogFile
        switch LogFile.open(path) {
        case .success(let opened):
            file = opened
        case .failure(let failure):
            var errno: Errno?
            if case .system(let code) = failure { errno = code }
            throw TrustError(
                kind: .cannotCreate,
                message: "cannot open log file \(path): \(failure.description)",
                errno: errno,
                operation: "open \(path)"
            )
        }
        signal(SIGXFSZ, SIG_IGN)
        self.path = path
        queue = LogWriterQueue(maxQueuedLines: max(1, maxQueuedLines), maxQueuedBytes: max(1, maxQueuedBytes))
        let loop = LogWriterLoop(queue: queue, file: file)
        // Born with SIGINT/SIGTERM/SIGHUP blocked, like every helper thread:
        // only the server's signalfd may take them.
        switch SignalEvents.withTerminationSignalsBlocked({ Self.startWriterThread(loop) }) {
        case .success(let thread):
            self.thread = thread
        case .failure(let error):
            loop.closeFile()
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
        queue.enqueue(line)
    }

    /// Asks the writer thread to close and reopen `path` before its next
    /// write (log rotation). Returns at once; safe from any thread, but not
    /// from inside a signal handler (it takes a mutex): deliver SIGHUP to a
    /// loop first (signalfd / eventfd), then call this.
    public func reopen() {
        queue.requestReopen()
    }

    /// Waits until every line queued before this call (and a pending reopen)
    /// has been handled by the writer, or `timeout` passes. Returns true when
    /// everything was handled. For shutdown and tests; blocks the caller.
    @discardableResult
    public func flush(timeout: Duration) -> Bool {
        queue.waitUntilHandled(timeoutNanoseconds: Self.nanoseconds(timeout))
    }

    /// Writes what is queued, stops the writer thread and closes the file.
    /// Later `enqueue` calls return false. Waits at most `timeout` for the
    /// last write; a writer still stuck in it then (a hung disk) is left to
    /// finish on its own and false is returned. Idempotent; the first caller
    /// waits for the thread.
    @discardableResult
    public func close(timeout: Duration = .seconds(10)) -> Bool {
        guard queue.requestStop() else { return queue.waitForWriterExit(timeoutNanoseconds: 0) }
        if queue.waitForWriterExit(timeoutNanoseconds: Self.nanoseconds(timeout)) {
            pthread_join(thread, nil)
            return true
        }
        pthread_detach(thread)
        return false
    }

    public var statistics: Statistics {
        queue.statistics
    }

    /// Clamped to about 136 years so the arithmetic cannot overflow.
    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        let seconds = min(max(parts.seconds, 0), Int64(UInt32.max))
        return seconds * 1_000_000_000 + max(0, parts.attoseconds / 1_000_000_000)
    }

    /// Safe: the one retain taken here is handed to the new thread, which
    /// balances it with `takeRetainedValue` before doing anything else; if
    /// the thread is not created, the retain is released here.
    private static func startWriterThread(_ loop: LogWriterLoop) -> Result<pthread_t, TrustError> {
        let context = Unmanaged.passRetained(loop).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                let loop = Unmanaged<LogWriterLoop>.fromOpaque(context!).takeRetainedValue()
                loop.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<LogWriterLoop>.fromOpaque(context).release()
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
}

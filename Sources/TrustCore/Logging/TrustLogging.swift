import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Process-wide logging setup.
///
/// After `bootstrap`, code simply creates `Logger(label: "trustctl.server")`
/// and logs event names with metadata:
///
///     logger.info("connection_closed", metadata: ["request_id": "\(id)", "reason": "peer_closed"])
///
/// Code that must not touch the global state (unit tests) builds its logger
/// directly: `Logger(label: "x") { _ in JSONLogHandler(writer: writer, level: .debug) }`.
public enum TrustLogging {
    /// What the global factory hands to new loggers. Set by `bootstrap`.
    private struct Destination: Sendable {
        var writer: LogWriter
        var level: Logger.Level
    }

    private static let destination = Mutex<Destination?>(nil)

    /// Creates the log file's parent directory if needed, opens a
    /// `LogWriter` on `path`, and makes every `Logger(label:)` created from
    /// now on write JSON lines to it at `level`.
    ///
    /// swift-log allows `LoggingSystem.bootstrap` once per process; the first
    /// call here installs a factory that reads the current destination, and a
    /// later call only replaces the destination (loggers created before keep
    /// their writer). The caller owns the returned writer: `flush` and
    /// `close` it at shutdown, `reopen` it on SIGHUP.
    ///
    /// - Throws: `TrustError` `.cannotCreate` (exit 73) naming the directory
    ///   or file and the errno.
    public static func bootstrap(logFile path: String, level: Logger.Level) throws(TrustError)
        -> LogWriter
    {
        try createParentDirectory(of: path)
        let writer = try LogWriter(path: path)
        let firstTime = destination.withLock { current in
            let first = current == nil
            current = Destination(writer: writer, level: level)
            return first
        }
        if firstTime {
            LoggingSystem.bootstrap { _ in
                // Non-nil: set before the factory was installed.
                let current = destination.withLock { $0! }
                return JSONLogHandler(writer: current.writer, level: current.level)
            }
        }
        return writer
    }

    /// A monotonic clock reading in nanoseconds, for `LogRateLimiter`.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// `mkdir -p` of `path`'s directory, mode 0755.
    static func createParentDirectory(of path: String) throws(TrustError) {
        guard let lastSlash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<lastSlash])
        if directory.isEmpty { return }
        // One mkdir per path component: bounded by the path's length.
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                let failure = Errno(rawValue: errno)
                throw TrustError(
                    kind: .cannotCreate,
                    message: "cannot create log directory \(prefix): \(failure.description)",
                    errno: failure,
                    operation: "mkdir \(prefix)"
                )
            }
            prefix += "/"
        }
    }
}

import Logging
import Synchronization

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

    /// Opens a `LogWriter` on `path` and makes every `Logger(label:)` created
    /// from now on write JSON lines to it at `level`. The directory must
    /// exist: `TrustHome.createLogsDirectory()` makes it.
    ///
    /// swift-log allows `LoggingSystem.bootstrap` once per process; the first
    /// call here installs a factory that reads the current destination, and a
    /// later call only replaces the destination (loggers created before keep
    /// their writer). The caller owns the returned writer: `flush` and
    /// `close` it at shutdown, `reopen` it on SIGHUP.
    ///
    /// Never blocks: a FIFO, device, socket or directory in place of the file
    /// is refused (see `LogWriter.init`).
    ///
    /// - Throws: `TrustError` `.cannotCreate` (exit 73) naming the file and
    ///   the errno or the kind of file found there.
    public static func bootstrap(logFile path: String, level: Logger.Level) throws(TrustError)
        -> LogWriter
    {
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

    /// Log lines that never reached the file for `logger` (queue full, or
    /// lost to a failed write; `LogWriter.Statistics.linesDropped`): what the
    /// server reports as `log_lines_dropped` at stop. Zero for a logger that
    /// does not write through a `JSONLogHandler`.
    public static func droppedLines(for logger: Logger) -> UInt64 {
        (logger.handler as? JSONLogHandler)?.writer.statistics.linesDropped ?? 0
    }
}

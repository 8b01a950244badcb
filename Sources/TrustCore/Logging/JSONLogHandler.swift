import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes one JSON object per line (SPEC §10):
///
///     {"ts":"2026-11-22T21:30:05.123Z","level":"info","event":"connection_closed","pid":4242,"bytes_in":12,...}
///
/// The log message is the event name: `logger.info("connection_closed",
/// metadata: ["request_id": "\(id)", "bytes_in": .stringConvertible(n)])`.
/// Metadata keys follow the fixed keys as top-level fields, sorted by key.
/// A metadata key equal to `ts`, `level`, `event` or `pid` is written as
/// `meta_<key>` so the fixed keys stay unambiguous.
///
/// Formatting happens on the calling thread into a byte array (no Foundation
/// encoders); the line is then handed to a `LogWriter`, whose own thread does
/// the disk IO, so a caller on the event loop never waits on the disk.
///
/// Use it without the global bootstrap (tests, tools):
///
///     let logger = Logger(label: "test") { _ in JSONLogHandler(writer: writer, level: .debug) }
public struct JSONLogHandler: LogHandler {
    /// A plain stored property on purpose: `Logger` compares it with the
    /// call's level *before* evaluating the message and metadata
    /// autoclosures, so a disabled level costs one load and one compare and
    /// builds no strings or dictionaries.
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata
    public var metadataProvider: Logger.MetadataProvider?

    public let writer: LogWriter
    private let processID: Int32

    /// Keys every line starts with; metadata keys equal to these get the
    /// `meta_` prefix.
    static let reservedKeys: Set<String> = ["ts", "level", "event", "pid"]

    /// The length test skips hashing for nearly every key.
    static func isReserved(_ key: String) -> Bool {
        key.utf8.count <= 5 && reservedKeys.contains(key)
    }

    public init(
        writer: LogWriter,
        level: Logger.Level = .info,
        metadata: Logger.Metadata = [:],
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.writer = writer
        self.logLevel = level
        self.metadata = metadata
        self.metadataProvider = metadataProvider
        self.processID = getpid()
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        writer.enqueue(formatLine(event, at: .now()))
    }

    /// The line for `event` without the trailing newline.
    func formatLine(_ event: LogEvent, at timestamp: LogTimestamp) -> [UInt8] {
        var fields = metadata
        // Precedence, lowest first: handler metadata, metadata provider
        // (task context), the call's own metadata.
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            fields.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            fields.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error, fields["error"] == nil {
            fields["error"] = .string(String(describing: error))
        }

        var line = JSONLineBuffer()
        line.appendLineHeader(
            timestamp: timestamp, level: event.level, event: event.message.description, pid: processID)
        // Sorted: the same event always reads the same way, and the
        // output does not depend on the process's hash seed.
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            let fieldKey = Self.isReserved(key) ? "meta_" + key : key
            line.appendField(key: fieldKey, value: value)
        }
        line.closeObject()
        return line.bytes
    }
}

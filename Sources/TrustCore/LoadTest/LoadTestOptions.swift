/// Everything `echo-load-test` runs with (SPEC §8).
public struct LoadTestOptions: Sendable, Equatable {
    /// How each round trip's bytes go on the wire.
    public enum Mode: String, Sendable, CaseIterable {
        /// Each message is a frame: 4-byte big-endian length + payload.
        case framed
        /// Each message is `payloadSize` bytes, unframed.
        case raw
    }

    public var host: String
    public var port: UInt16
    /// Client sessions in all (each: connect, `messages` round trips, close).
    /// With `duration`, the sessions keep cycling until time is up.
    public var clients: Int
    /// Round trips per client session.
    public var messages: Int
    /// Sessions open at once (capped at `clients`).
    public var concurrency: Int
    /// Payload bytes per message (frame header not included).
    public var payloadSize: Int
    public var mode: Mode
    /// Seconds to run instead of stopping after `clients` sessions.
    public var duration: Double?
    /// Open-loop load: round trips per second in total.
    public var rate: Double?
    /// New connections per second at most.
    public var connectRate: Double?
    /// Seconds a connect or a round trip may take before it counts as a
    /// `timeout` failure.
    public var timeout: Double
    /// Event loops (threads) the connections are spread over.
    public var threads: Int

    public init(
        host: String, port: UInt16, clients: Int, messages: Int, concurrency: Int = 1, payloadSize: Int = 64,
        mode: Mode = .framed, duration: Double? = nil, rate: Double? = nil, connectRate: Double? = nil,
        timeout: Double = 10, threads: Int = 1
    ) {
        self.host = host
        self.port = port
        self.clients = clients
        self.messages = messages
        self.concurrency = concurrency
        self.payloadSize = payloadSize
        self.mode = mode
        self.duration = duration
        self.rate = rate
        self.connectRate = connectRate
        self.timeout = timeout
        self.threads = threads
    }

    /// The largest payload: every loop holds a pattern buffer of
    /// `PayloadPattern.period + payloadSize` bytes to cut messages from.
    public static let maxPayloadSize = 16 << 20
    public static let maxClients = 100_000_000
    public static let maxMessages = 1_000_000_000
    public static let maxConcurrency = 1_000_000
    public static let maxThreads = 256

    /// Connections actually open at once.
    public var effectiveConcurrency: Int { min(concurrency, clients) }

    /// Bytes of one message on the wire (and of its echo).
    public var messageLength: Int { payloadSize + (mode == .framed ? 4 : 0) }

    public func validate() throws(TrustError) {
        try LoadTestOptions.require(clients, in: 1...LoadTestOptions.maxClients, "--clients")
        try LoadTestOptions.require(messages, in: 1...LoadTestOptions.maxMessages, "--messages")
        try LoadTestOptions.require(concurrency, in: 1...LoadTestOptions.maxConcurrency, "--concurrency")
        try LoadTestOptions.require(threads, in: 1...LoadTestOptions.maxThreads, "--threads")
        // A zero-length frame is a valid round trip (its 4-byte header is
        // echoed); a zero-byte raw message would be nothing at all.
        let smallest = mode == .framed ? 0 : 1
        if payloadSize < smallest || payloadSize > LoadTestOptions.maxPayloadSize {
            throw .usage(
                "--payload-size must be between \(smallest) and \(LoadTestOptions.maxPayloadSize) in \(mode.rawValue) mode, got \(payloadSize)"
            )
        }
        if let duration, !(duration > 0 && duration <= 86_400) {
            throw .usage("--duration must be a number of seconds above 0 and at most 86400, got \(duration)")
        }
        if let rate, !(rate > 0 && rate <= 100_000_000) {
            throw .usage("--rate must be a number of round trips per second above 0, got \(rate)")
        }
        if let connectRate, !(connectRate > 0 && connectRate <= 100_000_000) {
            throw .usage("--connect-rate must be a number of connections per second above 0, got \(connectRate)")
        }
        if !(timeout > 0 && timeout <= 3_600) {
            throw .usage("--timeout must be a number of seconds above 0 and at most 3600, got \(timeout)")
        }
    }

    private static func require(_ value: Int, in range: ClosedRange<Int>, _ flag: String) throws(TrustError) {
        if !range.contains(value) {
            throw .usage("\(flag) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
    }
}

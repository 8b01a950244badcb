/// Everything `echo-load-test` runs with (SPEC §8).
public struct LoadTestOptions: Sendable, Equatable {
    /// How each round trip's bytes go on the wire.
    public enum Mode: String, Sendable, CaseIterable {
        /// Each message is a frame: 4-byte big-endian length + payload.
        case framed
        /// Each message is `payloadSize` bytes, unframed.
        case raw
    }

    /// The PROXY protocol header each connection begins with (SPEC §8,
    /// §14), as a balancer in front of the server would send it.
    public enum ProxyHeader: String, Sendable, CaseIterable {
        case v1
        case v2
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
    /// Send a PROXY header with the connection's own addresses first.
    public var proxyHeader: ProxyHeader?
    /// A connection the server closes (or resets) before any byte of an
    /// answer is open again, and its unanswered round trip sent again on
    /// it, instead of a failure: what a rolling restart behind a balancer
    /// needs (docs/load-testing.md, "Reconnecting").
    public var reconnect: Bool
    /// The IO backend of the load tester's loops (SPEC §18), as for the
    /// server: auto takes io_uring where the kernel allows it.
    public var io: IOSelection
    /// `--tls`: speak TLS (docs/tls.md); nil for plain TCP.
    public var tls: TLSClientOptions? = nil
    /// `--tls-resume`: each slot's next connection resumes its last session.
    public var tlsResume = false
    /// Intervals, warm-up, source addresses (LoadTestMeasuring.swift).
    public var measuring = LoadTestMeasuring()

    public init(
        host: String, port: UInt16, clients: Int, messages: Int, concurrency: Int = 1, payloadSize: Int = 64,
        mode: Mode = .framed, duration: Double? = nil, rate: Double? = nil, connectRate: Double? = nil,
        timeout: Double = 10, threads: Int = 1, proxyHeader: ProxyHeader? = nil, reconnect: Bool = false,
        io: IOSelection = .auto
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
        self.proxyHeader = proxyHeader
        self.reconnect = reconnect
        self.io = io
    }

    /// The largest payload (`NumberRange.loadTestPayloadSize`).
    public static let maxPayloadSize = Int(NumberRange.loadTestPayloadSize.maximum)

    /// Connections actually open at once.
    public var effectiveConcurrency: Int { min(concurrency, clients) }

    /// Bytes of one message on the wire (and of its echo).
    public var messageLength: Int { payloadSize + (mode == .framed ? 4 : 0) }

    /// Checks values set in code against the range table, which the CLI
    /// has already applied to the text: whatever passes cannot make a
    /// conversion in the engine trap (docs/configuration.md, "Ranges").
    public func validate() throws(TrustError) {
        try NumberRange.loadTestPort.check(Int(port), "--port")
        try NumberRange.loadTestClients.check(clients, "--clients")
        try NumberRange.loadTestMessages.check(messages, "--messages")
        try NumberRange.loadTestConcurrency.check(concurrency, "--concurrency")
        try NumberRange.loadTestThreads.check(threads, "--threads")
        try NumberRange.loadTestPayloadSize.check(payloadSize, "--payload-size")
        // A zero-length frame is a valid round trip (its 4-byte header is
        // echoed); a zero-byte raw message would be nothing at all.
        if mode == .raw && payloadSize == 0 {
            throw .usage("--payload-size: 0 is out of range in raw mode: expected bytes 1-\(Self.maxPayloadSize)")
        }
        if let duration { try NumberRange.loadTestDuration.check(duration, "--duration") }
        if let rate { try NumberRange.loadTestRate.check(rate, "--rate") }
        if let connectRate { try NumberRange.loadTestConnectRate.check(connectRate, "--connect-rate") }
        try NumberRange.loadTestTimeout.check(timeout, "--timeout")
        try measuring.validate(duration: duration)
    }
}

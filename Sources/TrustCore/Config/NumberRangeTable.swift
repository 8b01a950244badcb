/// The range table: every numeric setting of every command, in one place.
/// docs/configuration.md repeats it ("Ranges"), and a test checks that the
/// two agree.
///
/// Shared rules: seconds are at most one week (604800) in every command, and
/// a nonzero number of seconds is at least 0.001 (everything runs on
/// millisecond timers; a smaller value would round to a timer of 0 or to
/// "none"). Rates are 0.001-100000000 per second: the slowest is one event
/// every 1000 s, and every interval between events stays a small, exact
/// count of nanoseconds, so no conversion downstream can overflow.
extension NumberRange {
    /// The longest time any setting may name: longer is a mistake, not a wish.
    public static let maximumSeconds = 604_800.0
    public static let secondsResolution = 0.001

    /// Seconds that must be positive: 0.001-604800.
    public static let seconds = NumberRange(
        .decimal, unit: "seconds", minimum: secondsResolution, maximum: maximumSeconds)

    public static func seconds(zeroMeans: String) -> NumberRange {
        NumberRange(
            .decimal, unit: "seconds", minimum: secondsResolution, maximum: maximumSeconds, zeroMeans: zeroMeans)
    }

    public static func perSecond(_ unit: String) -> NumberRange {
        NumberRange(.decimal, unit: unit, minimum: 0.001, maximum: 100_000_000)
    }

    // MARK: echo-server and config show (flags, TRUST_ECHO_*, config.json)

    /// 0 picks a free port.
    public static let serverPort = integer("port", 0...65535)
    public static let idleTimeout = seconds(zeroMeans: "none")
    public static let maxFrame = integer("bytes", 0...4_294_967_295)
    /// Far above any descriptor limit; keeps counts well inside `Int`.
    public static let maxClients = integer("integer", 1...1_000_000)
    public static let workers = integer("integer", 1...1024)
    public static let drainTimeout = seconds(zeroMeans: "close at once")
    public static let tlsHandshakeTimeout = seconds
    public static let udpRate = NumberRange(
        .decimal, unit: "datagrams/s", minimum: 0.001, maximum: 100_000_000, zeroMeans: "no limit")

    // MARK: echo-client

    public static let clientPort = integer("port", 1...65535)
    /// A frame length must fit in 32 bits, and the client holds the payload
    /// and its echo in memory.
    public static let clientPayloadSize = integer("bytes", 0...1_073_741_824)
    public static let clientTimeout = seconds
    public static let clientCount = integer("integer", 1...1_000_000)

    // MARK: echo-load-test

    public static let loadTestPort = integer("port", 1...65535)
    public static let loadTestClients = integer("integer", 1...100_000_000)
    public static let loadTestMessages = integer("integer", 1...1_000_000_000)
    public static let loadTestConcurrency = integer("integer", 1...1_000_000)
    /// Every loop holds a pattern buffer of `PayloadPattern.period +
    /// payloadSize` bytes to cut messages from; raw mode needs at least 1.
    public static let loadTestPayloadSize = integer("bytes", 0...16_777_216)
    public static let loadTestDuration = seconds
    public static let loadTestRate = perSecond("round trips/s")
    public static let loadTestConnectRate = perSecond("connections/s")
    public static let loadTestTimeout = seconds
    public static let loadTestThreads = integer("integer", 1...256)
    public static let loadTestMaxLoss = NumberRange(.decimal, unit: "percent", minimum: 0, maximum: 100)
    public static let loadTestInterval = seconds
    public static let loadTestWarmup = seconds

    /// The table as (command, setting, range), in the order docs/configuration.md lists it.
    public static let table: [(command: String, setting: String, range: NumberRange)] = [
        ("echo-server", "port", serverPort),
        ("echo-server", "timeout", idleTimeout),
        ("echo-server", "max-frame", maxFrame),
        ("echo-server", "max-clients", maxClients),
        ("echo-server", "workers", workers),
        ("echo-server", "drain-timeout", drainTimeout),
        ("echo-server", "tls-handshake-timeout", tlsHandshakeTimeout),
        ("echo-server", "udp-rate", udpRate),
        ("echo-client", "<port>", clientPort),
        ("echo-client", "--payload-size", clientPayloadSize),
        ("echo-client", "--timeout", clientTimeout),
        ("echo-client", "--count", clientCount),
        ("echo-load-test", "--port", loadTestPort),
        ("echo-load-test", "--clients", loadTestClients),
        ("echo-load-test", "--messages", loadTestMessages),
        ("echo-load-test", "--concurrency", loadTestConcurrency),
        ("echo-load-test", "--payload-size", loadTestPayloadSize),
        ("echo-load-test", "--duration", loadTestDuration),
        ("echo-load-test", "--rate", loadTestRate),
        ("echo-load-test", "--connect-rate", loadTestConnectRate),
        ("echo-load-test", "--timeout", loadTestTimeout),
        ("echo-load-test", "--threads", loadTestThreads),
        ("echo-load-test", "--max-loss", loadTestMaxLoss),
        ("echo-load-test", "--interval", loadTestInterval),
        ("echo-load-test", "--warmup", loadTestWarmup),
    ]
}

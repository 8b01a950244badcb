/// What the service core runs with, whatever the protocol.
public struct ServiceOptions: Sendable {
    public var host: String
    public var port: UInt16
    /// Listening sockets handed over by a supervisor (socket activation);
    /// when not empty, `host` and `port` are not bound.
    public var inheritedListeners: [InheritedListener] = []
    /// Seconds without progress before a connection is closed; 0 = never.
    public var idleTimeout: Double
    public var maxClients: Int
    public var workers: Int
    /// Seconds a graceful stop may take before connections are cut.
    public var drainTimeout: Double
    public var backlog: Int32 = 4096
    /// Slots per worker's connection table: the descriptor limit.
    public var descriptorLimit: Int = 1024
    /// The IO backend wanted (SPEC §18); resolved once when the service runs.
    public var io: IOSelection = .auto
    /// The metrics endpoint's port (0 picks one); nil: no endpoint.
    public var metricsPort: UInt16? = nil
    public var metricsHost: String = "127.0.0.1"
    /// Whether every connection starts with a PROXY header, and from whom one is taken.
    public var proxyProtocol: ProxyProtocolMode = .off
    public var proxyTrusted: ProxyTrustedNetworks = .loopback
    /// Serve TLS with these files (docs/tls.md); nil: plain TCP.
    public var tls: TLSServerConfiguration? = nil
    /// TCP, UDP or both on host and port (docs/udp.md).
    public var transport: ServiceTransport = .tcp
    /// UDP datagrams/s echoed to one source address; 0 = no limit.
    public var udpRate: Double = 1000

    public init(
        host: String, port: UInt16, idleTimeout: Double, maxClients: Int, workers: Int, drainTimeout: Double
    ) {
        self.host = host
        self.port = port
        self.idleTimeout = idleTimeout
        self.maxClients = maxClients
        self.workers = workers
        self.drainTimeout = drainTimeout
    }

    var idleTimeoutMs: Int64 { ServiceOptions.milliseconds(idleTimeout) }
    var drainTimeoutMs: Int64 { ServiceOptions.milliseconds(drainTimeout) }

    /// Whole milliseconds, rounded up; saturating, so no value can trap.
    static func milliseconds(_ seconds: Double) -> Int64 {
        let ms = (seconds * 1000).rounded(.up)
        guard ms.isFinite, ms > 0 else { return 0 }
        return ms >= 9.2e18 ? Int64.max / 2 : Int64(ms)
    }
}

/// How a service's `run` ended.
public enum ServiceOutcome: Sendable, Equatable {
    /// Stopped by SIGINT/SIGTERM after draining (exit 0).
    case drained
    /// A second signal arrived during the drain: stop at once.
    case interrupted(signal: Int32)
}

import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The server's settings (SPEC §4), each declared once. Adding a setting is
/// a declaration here, its entry in `all`, and a typed accessor in
/// `ServerSettings`; the flags of `echo-server` and `config show`, the
/// `TRUST_ECHO_*` variable, the config.json key, `config show`, the error
/// messages and the help all follow from it (docs/configuration.md).
public enum ServerSetting {
    public static let port = Setting<UInt16>(
        "port", .integer(.serverPort, placeholder: "port"), required: (),
        help: "TCP port to listen on; 0 picks a free one.")
    public static let host = Setting<String>(
        "host", .host, default: { "0.0.0.0" }, help: "Address to bind; :: for dual-stack IPv6.")
    public static let mode = Setting<EchoMode>(
        "mode", .choice(placeholder: "mode"), default: { .auto },
        help: "How each connection's bytes are echoed: auto decides per connection by its first byte.")
    public static let timeout = Setting<Double>(
        "timeout", .decimal(.idleTimeout, placeholder: "seconds"), default: { 300 },
        help: "Close a connection idle, or not taking its echoes, for this long.")
    public static let maxFrame = Setting<UInt32>(
        "max-frame", .integer(.maxFrame, placeholder: "bytes"), default: { 65536 },
        help: "Largest framed payload; a larger frame closes its connection.")
    public static let maxClients = Setting<Int>(
        "max-clients", .integer(.maxClients, placeholder: "n"), default: { 10000 },
        help: "Most connections served at once; the next is accepted and closed.")
    public static let workers = Setting<Int>(
        "workers", .integer(.workers, placeholder: "n"), default: { onlineProcessors },
        describedAs: "online CPUs", help: "Event-loop threads.")
    public static let drainTimeout = Setting<Double>(
        "drain-timeout", .decimal(.drainTimeout, placeholder: "seconds"), default: { 5 },
        help: "Time given to draining connections after SIGINT or SIGTERM.")
    public static let io = Setting<IOSelection>(
        "io", .choice(placeholder: "backend"), default: { .auto },
        help: "IO backend: auto takes io_uring where the kernel allows it, else epoll (SPEC §18).")
    public static let metricsPort = Setting<PortOrOff>(
        "metrics-port", .portOrOff(.serverPort), default: { .off },
        help: "Serve /metrics, /healthz and /readyz over HTTP on this port; 0 picks a free one (docs/operations.md).")
    public static let metricsHost = Setting<String>(
        "metrics-host", .host, default: { "127.0.0.1" }, help: "Address the metrics endpoint binds.")
    public static let proxyProtocol = Setting<ProxyProtocolMode>(
        "proxy-protocol", .choice(placeholder: "version"), default: { .off },
        help: "Read a PROXY protocol header first on every connection (docs/operations.md).")
    public static let proxyTrusted = Setting<ProxyTrustedNetworks>(
        "proxy-trusted", .cidrList, default: { .loopback },
        help: "Peers allowed to send a PROXY header; a connection from elsewhere is closed.")
    public static let tlsCert = Setting<OptionalFile>(
        "tls-cert", .file, default: { .none },
        help: "Serve TLS with this PEM certificate (chain); needs --tls-key (docs/tls.md).")
    public static let tlsKey = Setting<OptionalFile>(
        "tls-key", .file, default: { .none }, help: "The PEM private key of --tls-cert.")
    public static let tlsClientCA = Setting<OptionalFile>(
        "tls-client-ca", .file, default: { .none },
        help: "Mutual TLS: clients must present a certificate issued by a CA in this PEM file.")
    public static let tlsHandshakeTimeout = Setting<Double>(
        "tls-handshake-timeout", .decimal(.tlsHandshakeTimeout, placeholder: "seconds"), default: { 10 },
        help: "Close a connection whose TLS handshake has not completed in this time.")
    public static let transport = Setting<ServiceTransport>(
        "transport", .choice(placeholder: "transport"), default: { .tcp },
        help: "Serve TCP, UDP (RFC 862 §2) or both on the same host and port (docs/udp.md).")
    public static let udpRate = Setting<Double>(
        "udp-rate", .decimal(.udpRate, placeholder: "datagrams/s"), default: { 1000 },
        help: "UDP datagrams echoed per second to one source address, burst one second's worth; 0: no limit.")
    public static let logLevel = Setting<Logger.Level>(
        "log-level", .choice(placeholder: "level"), default: { .info }, environment: "TRUST_LOG_LEVEL",
        help: "Least severe log line written.")

    /// Every setting, in the order `config show` and the help list them.
    public static let all: [any AnySetting] = [
        port, host, mode, timeout, maxFrame, maxClients, workers, drainTimeout, io, metricsPort, metricsHost,
        proxyProtocol, proxyTrusted, transport, udpRate, tlsCert, tlsKey, tlsClientCA, tlsHandshakeTimeout,
        logLevel,
    ]

    /// The declaration named `name` (a flag without dashes, a config.json key).
    public static func named(_ name: String) -> (any AnySetting)? {
        all.first { $0.name == name }
    }

    /// One worker per online CPU, within the workers range.
    static var onlineProcessors: Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return Int(min(max(online, 1), Int(NumberRange.workers.maximum)))
    }
}

import Logging

/// Everything the server runs with: one plain typed value per setting of
/// `ServerSetting.all`, and the layer each came from.
///
/// Values are stored by setting name and read back through the setting's
/// declaration, so the type is the declared one; the typed accessors below
/// are the only per-setting code.
public struct ServerSettings: Sendable, Equatable {
    struct Entry: Sendable {
        var value: any SettingValue
        var origin: ConfigOrigin
    }

    private var entries: [String: Entry]

    init(entries: [String: Entry]) {
        self.entries = entries
    }

    /// Settings built in code (tests, embedders): every default, and `port`.
    /// Values set in code, through the subscript, are marked `flag`.
    public init(port: UInt16) {
        var entries: [String: Entry] = [:]
        for setting in ServerSetting.all {
            if let value = setting.defaultSettingValue() {
                entries[setting.name] = Entry(value: value, origin: .default)
            }
        }
        self.init(entries: entries)
        self[ServerSetting.port] = port
    }

    // MARK: Typed accessors

    public var port: UInt16 { self[ServerSetting.port] }
    public var host: String { self[ServerSetting.host] }
    public var mode: EchoMode { self[ServerSetting.mode] }
    /// The IO backend asked for (resolved when the server starts).
    public var io: IOSelection { self[ServerSetting.io] }
    /// The metrics endpoint's port; nil when it is off.
    public var metricsPort: UInt16? { self[ServerSetting.metricsPort].port }
    public var metricsHost: String { self[ServerSetting.metricsHost] }
    public var proxyProtocol: ProxyProtocolMode { self[ServerSetting.proxyProtocol] }
    public var proxyTrusted: ProxyTrustedNetworks { self[ServerSetting.proxyTrusted] }
    /// Seconds a connection may stay idle (or unable to take its echoes); 0 = no timeout.
    public var idleTimeout: Double { self[ServerSetting.timeout] }
    /// Largest frame payload accepted in framed mode, in bytes.
    public var maxFrame: UInt32 { self[ServerSetting.maxFrame] }
    public var maxClients: Int { self[ServerSetting.maxClients] }
    public var workers: Int { self[ServerSetting.workers] }
    /// Seconds given to draining after SIGINT/SIGTERM.
    public var drainTimeout: Double { self[ServerSetting.drainTimeout] }
    public var logLevel: Logger.Level { self[ServerSetting.logLevel] }
    /// TLS (docs/tls.md): the certificate and key files, the client CA for mutual TLS.
    public var tlsCert: String? { self[ServerSetting.tlsCert].path }
    public var tlsKey: String? { self[ServerSetting.tlsKey].path }
    public var tlsClientCA: String? { self[ServerSetting.tlsClientCA].path }
    public var tlsHandshakeTimeout: Double { self[ServerSetting.tlsHandshakeTimeout] }
    /// Which sockets the server binds (docs/udp.md).
    public var transport: ServiceTransport { self[ServerSetting.transport] }
    /// UDP datagrams per second echoed to one source address; 0 = no limit.
    public var udpRate: Double { self[ServerSetting.udpRate] }

    // MARK: By declaration

    /// The value of `setting`; setting one in code marks it `flag`.
    public subscript<Value>(setting: Setting<Value>) -> Value {
        get {
            guard let value = entries[setting.name]?.value as? Value else {
                preconditionFailure("setting \(setting.name) is missing from ServerSetting.all")
            }
            return value
        }
        set { entries[setting.name] = Entry(value: newValue, origin: .flag) }
    }

    public func origin<Value>(of setting: Setting<Value>) -> ConfigOrigin {
        entries[setting.name]?.origin ?? .default
    }

    /// The value with its origin.
    public func configured<Value>(_ setting: Setting<Value>) -> ConfiguredValue<Value> {
        ConfiguredValue(self[setting], origin: origin(of: setting))
    }

    /// The idle timeout as a duration; nil when it is 0 (no timeout).
    public var idleTimeoutDuration: Duration? {
        idleTimeout > 0 ? .milliseconds(Int64((idleTimeout * 1000).rounded())) : nil
    }

    public var drainTimeoutDuration: Duration {
        .milliseconds(Int64((drainTimeout * 1000).rounded()))
    }

    /// One row per setting, in declaration order, as `config show` prints them.
    public var effectiveSettings: [EffectiveSetting] {
        ServerSetting.all.map { setting in
            let entry = entries[setting.name]
            return EffectiveSetting(
                name: setting.name, value: entry.map { setting.showValue($0.value) } ?? "none",
                origin: entry?.origin ?? .default)
        }
    }

    public static func == (lhs: ServerSettings, rhs: ServerSettings) -> Bool {
        lhs.entries.count == rhs.entries.count
            && lhs.entries.allSatisfy { name, entry in
                guard let other = rhs.entries[name] else { return false }
                return entry.origin == other.origin && ServerSettings.equal(entry.value, other.value)
            }
    }

    /// Opens the first existential so the two values compare as its type.
    private static func equal<Value: Equatable>(_ value: Value, _ other: any SettingValue) -> Bool {
        (other as? Value) == value
    }
}

import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One setting of `echo-server` (SPEC §4): its name (the flag without dashes,
/// also the `config.json` key and the first column of `config show`), its
/// flag, its environment variable and what values it accepts.
public enum EchoSetting: String, Sendable, Equatable, Hashable, CaseIterable,
    CustomStringConvertible
{
    case port
    case host
    case mode
    case timeout
    case maxFrame = "max-frame"
    case maxClients = "max-clients"
    case workers
    case drainTimeout = "drain-timeout"
    case logLevel = "log-level"

    /// The flag name without dashes: `max-frame`.
    public var name: String { rawValue }

    /// The command-line flag: `--max-frame`.
    public var flag: String { "--\(rawValue)" }

    /// The environment variable: `TRUST_ECHO_MAX_FRAME`; the log level is
    /// shared by every command, so it has no `ECHO` in its name.
    public var environmentVariable: String {
        switch self {
        case .logLevel: return "TRUST_LOG_LEVEL"
        default: return "TRUST_ECHO_" + rawValue.uppercased().replacingDashes(with: "_")
        }
    }

    public var description: String { rawValue }

    /// What the setting accepts, worded to follow "expected " in an error message.
    public var acceptedValues: String {
        switch self {
        case .port: return "an integer 0-65535"
        case .host: return "an IP address or host name without spaces"
        case .mode: return "auto, raw or framed"
        case .timeout: return "a number of seconds 0-\(EchoSetting.maximumSeconds) (0 = none)"
        case .maxFrame: return "an integer 0-4294967295 (bytes)"
        case .maxClients: return "an integer 1-\(EchoSetting.maximumClients)"
        case .workers: return "an integer 1-\(EchoSetting.maximumWorkers)"
        case .drainTimeout: return "a number of seconds 0-\(EchoSetting.maximumSeconds)"
        case .logLevel: return "trace, debug, info, notice, warning, error or critical"
        }
    }

    /// One week: longer timeouts are a mistake rather than a wish (use 0 for
    /// none), and every such value fits an `Int32` count of milliseconds.
    public static let maximumSeconds = 604_800
    /// Far above any descriptor limit; keeps the count well inside `Int`.
    public static let maximumClients = 1_000_000
    public static let maximumWorkers = 1024

    public static let defaultHost = "0.0.0.0"
    public static let defaultMode = EchoMode.auto
    public static let defaultIdleTimeout = 300.0
    public static let defaultMaxFrame: UInt32 = 65536
    public static let defaultMaxClients = 10000
    public static let defaultDrainTimeout = 5.0
    public static let defaultLogLevel = Logger.Level.info

    /// One worker per online CPU, within 1...maximumWorkers.
    public static var defaultWorkers: Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return Int(min(max(online, 1), maximumWorkers))
    }
}

extension String {
    fileprivate func replacingDashes(with replacement: String) -> String {
        split(separator: "-", omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

import ArgumentParser
import TrustCore

/// The setting flags of SPEC §4, shared by `echo-server` and `config show`.
///
/// Values are taken as text and checked by TrustCore's parser, the same one
/// that checks environment and file values, so a bad value reads the same
/// from every layer. Numeric flags parse unconditionally so `--timeout -1`
/// is reported as a bad value rather than as an unknown flag `-1`.
struct ServerSettingsOptions: ParsableArguments {
    @Option(
        name: .customLong("port"), parsing: .unconditional,
        help: ArgumentHelp(
            "TCP port to listen on, 0-65535; 0 picks a free one. Env TRUST_ECHO_PORT. Required.",
            valueName: "port"))
    var port: String?

    @Option(
        name: .customLong("host"),
        help: ArgumentHelp(
            "Address to bind (default 0.0.0.0; :: for dual-stack IPv6). Env TRUST_ECHO_HOST.",
            valueName: "addr"))
    var host: String?

    @Option(
        name: .customLong("mode"),
        help: ArgumentHelp(
            "auto, raw or framed (default auto). Env TRUST_ECHO_MODE.", valueName: "mode"))
    var mode: String?

    @Option(
        name: .customLong("timeout"), parsing: .unconditional,
        help: ArgumentHelp(
            "Idle/send timeout in seconds, fractions allowed, 0 = none (default 300). Env TRUST_ECHO_TIMEOUT.",
            valueName: "seconds"))
    var timeout: String?

    @Option(
        name: .customLong("max-frame"), parsing: .unconditional,
        help: ArgumentHelp(
            "Largest framed payload in bytes, 0-4294967295 (default 65536). Env TRUST_ECHO_MAX_FRAME.",
            valueName: "bytes"))
    var maxFrame: String?

    @Option(
        name: .customLong("max-clients"), parsing: .unconditional,
        help: ArgumentHelp(
            "Most connections served at once, >= 1 (default 10000). Env TRUST_ECHO_MAX_CLIENTS.",
            valueName: "n"))
    var maxClients: String?

    @Option(
        name: .customLong("workers"), parsing: .unconditional,
        help: ArgumentHelp(
            "Event-loop threads, 1-1024 (default: online CPUs). Env TRUST_ECHO_WORKERS.", valueName: "n"))
    var workers: String?

    @Option(
        name: .customLong("drain-timeout"), parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds to drain connections after SIGINT/SIGTERM (default 5). Env TRUST_ECHO_DRAIN_TIMEOUT.",
            valueName: "seconds"))
    var drainTimeout: String?

    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical (default info). Env TRUST_LOG_LEVEL.",
            valueName: "level"))
    var logLevel: String?

    /// The flags that were given, keyed by setting.
    var givenFlags: [EchoSetting: String] {
        let all: [(EchoSetting, String?)] = [
            (.port, port), (.host, host), (.mode, mode), (.timeout, timeout), (.maxFrame, maxFrame),
            (.maxClients, maxClients), (.workers, workers), (.drainTimeout, drainTimeout),
            (.logLevel, logLevel),
        ]
        var flags: [EchoSetting: String] = [:]
        for case (let setting, let value?) in all { flags[setting] = value }
        return flags
    }

    func validate() throws {
        let flags = givenFlags
        for setting in EchoSetting.allCases {
            guard let value = flags[setting] else { continue }
            do {
                try ConfigResolver.validateFlag(setting, value)
            } catch {
                throw ValidationError(error.message)
            }
        }
    }

    /// A resolver over these flags, the environment and its TRUST_HOME.
    func resolver(environment: [String: String]) throws(TrustError) -> ConfigResolver {
        ConfigResolver(
            flags: givenFlags, environment: environment,
            trustHome: try TrustHome.locate(environment: environment))
    }
}

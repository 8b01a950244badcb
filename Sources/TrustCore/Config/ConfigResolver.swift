import Logging

/// Layers the settings of `echo-server`: flag > environment > config file >
/// default (SPEC §4). Every value passes the same parser whatever its layer;
/// a bad one is a usage error (64) from a flag and a config error (78) from
/// the environment or the file, and the message names the setting, its
/// origin and the accepted values.
public struct ConfigResolver: Sendable {
    /// Flag values as typed on the command line, by setting; absent = not given.
    public let flags: [EchoSetting: String]
    public let environment: [String: String]
    public let trustHome: TrustHome

    public init(flags: [EchoSetting: String], environment: [String: String], trustHome: TrustHome) {
        self.flags = flags
        self.environment = environment
        self.trustHome = trustHome
    }

    /// What `echo-server` runs with. No port in any layer is the usage error
    /// `missing required flag: --port`.
    public func resolveServerSettings() throws(TrustError) -> EchoServerSettings {
        let resolved = try resolve()
        guard let port = resolved.port else {
            throw .usage("missing required flag: --port")
        }
        return EchoServerSettings(
            port: port, host: resolved.host, mode: resolved.mode, idleTimeout: resolved.idleTimeout,
            maxFrame: resolved.maxFrame, maxClients: resolved.maxClients, workers: resolved.workers,
            drainTimeout: resolved.drainTimeout, logLevel: resolved.logLevel)
    }

    /// What `config show` prints: like `resolveServerSettings()`, but a port
    /// set nowhere is shown as `none` (origin `default`) instead of failing.
    public func effectiveSettings() throws(TrustError) -> [EffectiveSetting] {
        let resolved = try resolve()
        return EffectiveSetting.rows(
            port: resolved.port, host: resolved.host, mode: resolved.mode,
            idleTimeout: resolved.idleTimeout,
            maxFrame: resolved.maxFrame, maxClients: resolved.maxClients, workers: resolved.workers,
            drainTimeout: resolved.drainTimeout, logLevel: resolved.logLevel)
    }

    /// Checks one flag value alone, for the CLI's `validate()`: the usage
    /// error (64) a resolver would throw for it, or nothing.
    public static func validateFlag(_ setting: EchoSetting, _ text: String) throws(TrustError) {
        if !SettingValueParser.accepts(text, for: setting) {
            throw invalidValue(text, setting, from: .flag, source: setting.flag)
        }
    }

    private struct Resolved {
        var port: ConfiguredValue<UInt16>?
        var host: ConfiguredValue<String>
        var mode: ConfiguredValue<EchoMode>
        var idleTimeout: ConfiguredValue<Double>
        var maxFrame: ConfiguredValue<UInt32>
        var maxClients: ConfiguredValue<Int>
        var workers: ConfiguredValue<Int>
        var drainTimeout: ConfiguredValue<Double>
        var logLevel: ConfiguredValue<Logger.Level>
    }

    /// Flags are checked before anything touches the disk, so a typo is a
    /// usage error even when TRUST_HOME is unusable.
    private func resolve() throws(TrustError) -> Resolved {
        for setting in EchoSetting.allCases {
            if let text = flags[setting] { try ConfigResolver.validateFlag(setting, text) }
        }
        try trustHome.create()
        let file = try ConfigFile.load(path: trustHome.configFilePath)
        let layers = Layers(flags: flags, environment: environment, file: file)
        return Resolved(
            port: try layers.value(.port, SettingValueParser.port),
            host: try layers.value(.host, SettingValueParser.host)
                ?? ConfiguredValue(EchoSetting.defaultHost, origin: .default),
            mode: try layers.value(.mode, SettingValueParser.mode)
                ?? ConfiguredValue(EchoSetting.defaultMode, origin: .default),
            idleTimeout: try layers.value(.timeout, SettingValueParser.seconds)
                ?? ConfiguredValue(EchoSetting.defaultIdleTimeout, origin: .default),
            maxFrame: try layers.value(.maxFrame, SettingValueParser.maxFrame)
                ?? ConfiguredValue(EchoSetting.defaultMaxFrame, origin: .default),
            maxClients: try layers.value(.maxClients, SettingValueParser.maxClients)
                ?? ConfiguredValue(EchoSetting.defaultMaxClients, origin: .default),
            workers: try layers.value(.workers, SettingValueParser.workers)
                ?? ConfiguredValue(EchoSetting.defaultWorkers, origin: .default),
            drainTimeout: try layers.value(.drainTimeout, SettingValueParser.seconds)
                ?? ConfiguredValue(EchoSetting.defaultDrainTimeout, origin: .default),
            logLevel: try layers.value(.logLevel, SettingValueParser.logLevel)
                ?? ConfiguredValue(EchoSetting.defaultLogLevel, origin: .default))
    }

    /// The three non-default layers of one resolution.
    private struct Layers {
        let flags: [EchoSetting: String]
        let environment: [String: String]
        let file: ConfigFile

        /// The highest layer that has the setting, parsed; nil if none has it.
        /// Only the winning layer is parsed: a bad value hidden under a flag
        /// does not stop the command, as with any layered configuration.
        func value<T>(_ setting: EchoSetting, _ parse: (String) -> T?) throws(TrustError)
            -> ConfiguredValue<T>?
        {
            let text: String
            let origin: ConfigOrigin
            let source: String
            if let flag = flags[setting] {
                (text, origin, source) = (flag, .flag, setting.flag)
            } else if let env = environment[setting.environmentVariable], !env.isEmpty {
                (text, origin, source) = (
                    env, .env, "\(setting.name) (from env \(setting.environmentVariable))"
                )
            } else if let fileValue = file.values[setting] {
                (text, origin, source) = (fileValue, .file, "\(setting.name) (from file \(file.path))")
            } else {
                return nil
            }
            guard let value = parse(text) else {
                throw ConfigResolver.invalidValue(text, setting, from: origin, source: source)
            }
            return ConfiguredValue(value, origin: origin)
        }
    }

    /// `invalid value 'abc' for --port (from flag): expected an integer 0-65535`
    private static func invalidValue(
        _ text: String, _ setting: EchoSetting, from origin: ConfigOrigin, source: String
    ) -> TrustError {
        let shown = text.unicodeScalars.map {
            $0.properties.isWhitespace && $0 != " " ? " " : String($0)
        }.joined()
        switch origin {
        case .flag:
            return .usage(
                "invalid value '\(shown)' for \(source) (from flag): expected \(setting.acceptedValues)")
        case .env, .file, .default:
            return .config("invalid value '\(shown)' for \(source): expected \(setting.acceptedValues)")
        }
    }
}

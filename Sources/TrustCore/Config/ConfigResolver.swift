/// Layers the server's settings: flag > environment > config file > default
/// (SPEC §4), for every declaration in `ServerSetting.all` alike. Every value
/// passes its setting's one parser whatever its layer; a bad one is a usage
/// error (64) from a flag and a config error (78) from the environment or
/// the file, and the message names the setting, its origin, the text as
/// given and the accepted values.
public struct ConfigResolver: Sendable {
    /// Flag values as typed on the command line, by setting name; absent = not given.
    public let flags: [String: String]
    public let environment: [String: String]
    public let trustHome: TrustHome

    public init(flags: [String: String], environment: [String: String], trustHome: TrustHome) {
        self.flags = flags
        self.environment = environment
        self.trustHome = trustHome
    }

    /// What `echo-server` runs with. No port in any layer is the usage error
    /// `missing required flag: --port`, unless `listenersInherited` (socket
    /// activation: the supervisor bound the sockets, the port is not used).
    public func resolveServerSettings(listenersInherited: Bool = false) throws(TrustError) -> ServerSettings {
        var entries = try resolve()
        if listenersInherited && entries[ServerSetting.port.name] == nil {
            entries[ServerSetting.port.name] = ServerSettings.Entry(value: UInt16(0), origin: .default)
        }
        for setting in ServerSetting.all where setting.isRequired && entries[setting.name] == nil {
            throw .usage("missing required flag: \(setting.flag)")
        }
        return ServerSettings(entries: entries)
    }

    /// What `config show` prints: like `resolveServerSettings()`, but a
    /// required setting set nowhere is shown as `none` (origin `default`).
    public func effectiveSettings() throws(TrustError) -> [EffectiveSetting] {
        ServerSettings(entries: try resolve()).effectiveSettings
    }

    /// Checks flag values alone, for the CLI's `validate()`: the usage error
    /// (64) a resolution would throw for the first bad one, or nothing.
    /// An unknown name is a usage error too.
    public static func checkFlags(_ flags: [String: String]) throws(TrustError) {
        for setting in ServerSetting.all {
            guard let text = flags[setting.name] else { continue }
            if case .failure(let problem) = setting.readValue(text) {
                throw .usage(problem.message(source: setting.flag, text: text, accepted: setting.accepted))
            }
        }
        for name in flags.keys.sorted() where ServerSetting.named(name) == nil {
            throw .usage("unknown option '--\(name)'")
        }
    }

    /// Flags are checked before anything touches the disk, so a typo is a
    /// usage error even when TRUST_HOME is unusable. Only the winning layer
    /// of each setting is parsed: a bad value hidden under a flag does not
    /// stop the command, as with any layered configuration.
    private func resolve() throws(TrustError) -> [String: ServerSettings.Entry] {
        try ConfigResolver.checkFlags(flags)
        try trustHome.create()
        let file = try ConfigFile.load(path: trustHome.configFilePath, settings: ServerSetting.all)
        var entries: [String: ServerSettings.Entry] = [:]
        for setting in ServerSetting.all {
            let text: String
            let origin: ConfigOrigin
            let source: String
            if let flag = flags[setting.name] {
                (text, origin, source) = (flag, .flag, setting.flag)
            } else if let env = environment[setting.environmentVariable], !env.isEmpty {
                (text, origin, source) = (env, .env, "\(setting.name) (from env \(setting.environmentVariable))")
            } else if let fileValue = file.values[setting.name] {
                (text, origin, source) = (fileValue, .file, "\(setting.name) (from file \(file.path))")
            } else {
                if let value = setting.defaultSettingValue() {
                    entries[setting.name] = ServerSettings.Entry(value: value, origin: .default)
                }
                continue
            }
            switch setting.readValue(text) {
            case .success(let value):
                entries[setting.name] = ServerSettings.Entry(value: value, origin: origin)
            case .failure(let problem):
                let message = problem.message(source: source, text: text, accepted: setting.accepted)
                throw origin == .flag ? .usage(message) : .config(message)
            }
        }
        return entries
    }
}

/// One server setting, declared once (`ServerSetting`): its name (the flag
/// without dashes, the config.json key and the first column of `config
/// show`), its environment variable, its format (parser, accepted values,
/// JSON type), its default and its help. The CLI flags, the environment and
/// file layers, `config show`, the error messages and `ServerSettings` are
/// all derived from these declarations.
public struct Setting<Value: Sendable & Equatable>: Sendable {
    public let name: String
    public let environmentVariable: String
    public let format: SettingFormat<Value>
    /// One sentence; the accepted values, the default and the environment
    /// variable are added wherever the help is shown.
    public let help: String
    /// nil for a setting without a default (the port): `echo-server` needs it.
    let defaultValue: (@Sendable () -> Value)?
    /// How the default is described in help when it is computed (`online CPUs`).
    let defaultDescription: String?

    /// A setting with a default. The environment variable is
    /// `TRUST_ECHO_<NAME>` unless given.
    public init(
        _ name: String, _ format: SettingFormat<Value>, default defaultValue: @escaping @Sendable () -> Value,
        describedAs defaultDescription: String? = nil, environment: String? = nil, help: String
    ) {
        self.name = name
        self.format = format
        self.defaultValue = defaultValue
        self.defaultDescription = defaultDescription
        self.environmentVariable = environment ?? Setting.echoVariable(name)
        self.help = help
    }

    /// A setting without a default: `echo-server` fails without it, `config show` shows `none`.
    public init(_ name: String, _ format: SettingFormat<Value>, required: Void, help: String) {
        self.name = name
        self.format = format
        self.defaultValue = nil
        self.defaultDescription = nil
        self.environmentVariable = Setting.echoVariable(name)
        self.help = help
    }

    /// `max-frame` -> `TRUST_ECHO_MAX_FRAME` (SPEC §4).
    static func echoVariable(_ name: String) -> String {
        "TRUST_ECHO_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }
}

/// A value of any setting, kept with the type it was declared with.
public typealias SettingValue = Sendable & Equatable

/// A setting seen without its value type: what the layers, `config show`
/// and the CLI need to handle every setting alike.
public protocol AnySetting: Sendable {
    var name: String { get }
    var environmentVariable: String { get }
    var accepted: String { get }
    var placeholder: String { get }
    var help: String { get }
    var jsonType: SettingJSONType { get }
    var isRequired: Bool { get }
    /// The default as help shows it; nil when there is none.
    var defaultText: String? { get }
    func readValue(_ text: String) -> Result<any SettingValue, ValueProblem>
    func defaultSettingValue() -> (any SettingValue)?
    func showValue(_ value: any SettingValue) -> String
}

extension AnySetting {
    /// `--max-frame`.
    public var flag: String { "--" + name }
}

extension Setting: AnySetting {
    public var accepted: String { format.accepted }
    public var placeholder: String { format.placeholder }
    public var jsonType: SettingJSONType { format.jsonType }
    public var isRequired: Bool { defaultValue == nil }
    public var defaultText: String? {
        defaultDescription ?? defaultValue.map { format.show($0()) }
    }

    public func readValue(_ text: String) -> Result<any SettingValue, ValueProblem> {
        format.read(text).map { $0 }
    }

    public func defaultSettingValue() -> (any SettingValue)? { defaultValue?() }

    public func showValue(_ value: any SettingValue) -> String {
        guard let typed = value as? Value else {
            preconditionFailure("a value of \(type(of: value)) stored for setting \(name)")
        }
        return format.show(typed)
    }
}

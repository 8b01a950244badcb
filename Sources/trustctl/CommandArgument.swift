import TrustCore

/// One option, flag or operand of a command, seen without its value type:
/// what `CommandSyntax` needs to split a command line and to write the
/// usage line and the help.
protocol CommandArgument: Sendable {
    /// `timeout` for `--timeout`; `port` for the operand `<port>`.
    var name: String { get }
    var role: CommandArgumentRole { get }
    /// Without brackets: `seconds`.
    var placeholder: String { get }
    /// The help text, with what is accepted and the default.
    var helpText: String { get }
    var isRequired: Bool { get }
    /// Required and only the command line can give it (a server setting
    /// may come from the environment or config.json instead).
    var mustBeGiven: Bool { get }
}

enum CommandArgumentRole: Sendable, Equatable {
    /// `--name VALUE` or `--name=VALUE`.
    case option
    /// `--name`, no value.
    case flag
    /// One positional value.
    case operand
    /// Every remaining positional value.
    case operands
}

extension CommandArgument {
    var mustBeGiven: Bool { isRequired }

    /// How messages and the help name it: `--timeout`, `<port>`.
    var label: String { role == .option || role == .flag ? "--" + name : "<\(name)>" }

    /// `--timeout <seconds>`, `--raw`, `<host>`, `<message> ...`.
    var synopsis: String {
        switch role {
        case .option: return "--\(name) <\(placeholder)>"
        case .flag: return "--\(name)"
        case .operand: return "<\(name)>"
        case .operands: return "<\(name)> ..."
        }
    }
}

/// An option or operand with a typed value, read with a `SettingFormat` (the
/// same parsers and range table as the server's settings).
struct CommandValue<Value: SettingValue>: CommandArgument {
    let name: String
    let role: CommandArgumentRole
    let format: SettingFormat<Value>
    let help: String
    let defaultValue: Value?
    let isRequired: Bool

    static func option(
        _ name: String, _ format: SettingFormat<Value>, default defaultValue: Value? = nil, required: Bool = false,
        help: String
    ) -> CommandValue {
        CommandValue(
            name: name, role: .option, format: format, help: help, defaultValue: defaultValue, isRequired: required)
    }

    static func operand(_ name: String, _ format: SettingFormat<Value>, help: String) -> CommandValue {
        CommandValue(name: name, role: .operand, format: format, help: help, defaultValue: nil, isRequired: true)
    }

    static func operands(_ name: String, _ format: SettingFormat<Value>, help: String) -> CommandValue {
        CommandValue(name: name, role: .operands, format: format, help: help, defaultValue: nil, isRequired: false)
    }

    var placeholder: String { format.placeholder }

    var helpText: String {
        CommandHelp.describe(
            help, accepted: format.accepted, default: defaultValue.map { format.show($0) }, environment: nil)
    }

    /// The typed value of `text`, or the usage error that quotes it.
    func read(_ text: String) throws(CommandLineError) -> Value {
        switch format.read(text) {
        case .success(let value): return value
        case .failure(let problem):
            throw CommandLineError(problem.message(source: label, text: text, accepted: format.accepted))
        }
    }
}

/// A flag without a value (`--raw`, `--json`).
struct CommandFlag: CommandArgument {
    let name: String
    let help: String

    var role: CommandArgumentRole { .flag }
    var placeholder: String { "" }
    var helpText: String { help }
    var isRequired: Bool { false }
}

/// A server setting as a flag of `echo-server` and `config show`: the
/// declaration gives the name, placeholder and help; the value stays text
/// for `ConfigResolver`, which parses every layer alike.
struct SettingFlag: CommandArgument {
    let setting: any AnySetting
    /// `echo-server` needs the port; `config show` does not.
    let marksRequired: Bool

    var name: String { setting.name }
    var role: CommandArgumentRole { .option }
    var placeholder: String { setting.placeholder }
    var isRequired: Bool { marksRequired && setting.isRequired }
    var mustBeGiven: Bool { false }
    var helpText: String {
        let defaultText = setting.defaultText ?? (marksRequired ? "none, required" : "none")
        return CommandHelp.describe(
            setting.help, accepted: setting.accepted, default: defaultText, environment: setting.environmentVariable)
    }

    /// One flag per server setting, in declaration order.
    static func all(markingRequired: Bool) -> [any CommandArgument] {
        ServerSetting.all.map { SettingFlag(setting: $0, marksRequired: markingRequired) }
    }
}

/// A command-line mistake: exit 64 with this one line.
struct CommandLineError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

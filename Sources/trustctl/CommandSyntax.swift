import ArgumentParser
import TrustCore

/// What one command accepts, declared once as a list of `CommandArgument`s,
/// and the one way every command's arguments are split.
///
/// ArgumentParser builds its options from stored properties only, so it
/// cannot make a flag per entry of a table, and it takes `-1` for a flag
/// (its issue #31). So the leaf commands hand their arguments to this parser
/// whole (`captureForPassthrough`), and ArgumentParser keeps the subcommand
/// tree, `--version` and the help screen, whose text this type writes from
/// the same declarations (docs/configuration.md, "The command line").
///
/// Rules: `--name VALUE` and `--name=VALUE`; a value is taken whatever it
/// looks like (`--messages -1`), except another `--option`; a later
/// occurrence of an option replaces an earlier one; `-1`, `-.5` and `-` are
/// values, any other word starting with `-` is an unknown option; `--` ends
/// the options; `-h` and `--help` anywhere before it show the help.
struct CommandSyntax: Sendable {
    /// `echo-client`, `config show`.
    let command: String
    let arguments: [any CommandArgument]

    /// The command line split and checked against the declarations.
    /// `--help` ends parsing with ArgumentParser's help request for `type`.
    func parse(_ tokens: [String], helpFor type: any ParsableCommand.Type) throws -> ParsedArguments {
        do {
            return try split(tokens)
        } catch is HelpRequested {
            throw CleanExit.helpRequest(type)
        } catch let error as CommandLineError {
            throw ValidationError(error.message)
        }
    }

    private struct HelpRequested: Error {}

    private func split(_ tokens: [String]) throws -> ParsedArguments {
        var parsed = ParsedArguments()
        var positional: [String] = []
        var index = 0
        var optionsEnded = false
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            if optionsEnded || !CommandSyntax.looksLikeOption(token) {
                positional.append(token)
                continue
            }
            if token == "--" {
                optionsEnded = true
                continue
            }
            if token == "-h" || token == "--help" { throw HelpRequested() }
            guard token.hasPrefix("--") else { throw CommandLineError("unknown option '\(visible(token))'") }
            let body = token.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            let inlineValue = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
            guard let argument = arguments.first(where: { $0.name == name && ($0.role == .option || $0.role == .flag) })
            else { throw CommandLineError("unknown option '--\(visible(name))'") }
            if argument.role == .flag {
                if inlineValue != nil { throw CommandLineError("'--\(name)' takes no value") }
                parsed.flags.insert(name)
                continue
            }
            if let inlineValue {
                parsed.values[name] = inlineValue
            } else if index < tokens.count, !CommandSyntax.isLongOption(tokens[index]) {
                parsed.values[name] = tokens[index]
                index += 1
            } else {
                throw CommandLineError("missing value for '\(argument.synopsis)'")
            }
        }
        try assignOperands(positional, to: &parsed)
        for argument in arguments where argument.role == .option && argument.mustBeGiven {
            if parsed.values[argument.name] == nil {
                throw CommandLineError("missing required flag: \(argument.label)")
            }
        }
        return parsed
    }

    private func assignOperands(_ positional: [String], to parsed: inout ParsedArguments) throws {
        var rest = positional[...]
        for argument in arguments {
            switch argument.role {
            case .operand:
                guard let first = rest.popFirst() else {
                    throw CommandLineError("missing expected argument '\(argument.synopsis)'")
                }
                parsed.operands[argument.name] = [first]
            case .operands:
                parsed.operands[argument.name] = Array(rest)
                rest = []
            case .option, .flag:
                continue
            }
        }
        if let extra = rest.first { throw CommandLineError("unexpected argument '\(visible(extra))'") }
    }

    /// `-x`, `--x`, `--`: not a number (`-1`, `-.5`) and not `-` alone.
    private static func looksLikeOption(_ token: String) -> Bool {
        let bytes = Array(token.utf8.prefix(2))
        guard bytes.count == 2, bytes[0] == UInt8(ascii: "-") else { return false }
        let second = bytes[1]
        return !(second >= UInt8(ascii: "0") && second <= UInt8(ascii: "9")) && second != UInt8(ascii: ".")
    }

    /// `--name...`: never taken as another option's value.
    private static func isLongOption(_ token: String) -> Bool {
        token.hasPrefix("--") && token.utf8.count > 2
    }

    private func visible(_ text: String) -> String { ValueProblem.visible(text) }

    // MARK: Help

    /// `trustctl echo-client <host> <port> [<message> ...] [--raw] ...`, as words
    /// that a wrapped line never breaks.
    var usageWords: [String] {
        ["trustctl", command]
            + arguments.map { argument in argument.isRequired ? argument.synopsis : "[\(argument.synopsis)]" }
    }

    /// The help screen below the abstract: `prose`, then usage, arguments
    /// and options laid out as ArgumentParser lays out its own.
    func help(prose: String) -> String {
        let operands = arguments.filter { $0.role == .operand || $0.role == .operands }
        let options = arguments.filter { $0.role == .option || $0.role == .flag }
        var sections = ["USAGE: " + CommandHelp.wrap(words: usageWords, indent: 7, firstLineUsed: 7)]
        if !operands.isEmpty {
            sections.append("ARGUMENTS:\n" + operands.map { CommandHelp.entry($0.label, $0.helpText) }.joined())
        }
        let helpEntry = CommandHelp.entry("-h, --help", "Show help information.")
        sections.append(
            "OPTIONS:\n" + options.map { CommandHelp.entry($0.synopsis, $0.helpText) }.joined() + helpEntry)
        return ([prose] + sections.map { $0.trimmingTrailingNewlines() }).joined(separator: "\n\n")
    }
}

/// What `CommandSyntax` found: option values as text (the last of each
/// wins), the flags given, and the operands by name.
struct ParsedArguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var operands: [String: [String]] = [:]

    func value<Value>(_ option: CommandValue<Value>) throws -> Value? {
        guard let text = option.role == .option ? values[option.name] : operands[option.name]?.first else {
            return option.defaultValue
        }
        do {
            return try option.read(text)
        } catch {
            throw ValidationError(error.message)
        }
    }

    func value<Value>(_ option: CommandValue<Value>, default fallback: Value) throws -> Value {
        try value(option) ?? fallback
    }

    /// Every value of an `operands` argument, each read with its format.
    func values<Value>(_ operands: CommandValue<Value>) throws -> [Value] {
        do {
            return try (self.operands[operands.name] ?? []).map { text throws(CommandLineError) in
                try operands.read(text)
            }
        } catch {
            throw ValidationError(error.message)
        }
    }

    func isSet(_ flag: CommandFlag) -> Bool { flags.contains(flag.name) }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

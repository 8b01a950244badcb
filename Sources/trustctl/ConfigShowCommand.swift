import ArgumentParser
import Foundation
import TrustCore

/// `trustctl config show`: every effective setting of `echo-server`, one per
/// line, as name, value and origin — without starting anything.
struct ConfigShowCommand: ParsableCommand {
    static let syntax = CommandSyntax(command: "config show", arguments: SettingFlag.all(markingRequired: false))

    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print every effective echo-server setting as: name value origin.",
        usage: "",
        discussion: syntax.help(
            prose: """
                Takes the same setting flags as echo-server. Origin is flag, env, file or default; \
                a port set nowhere is shown as 'none'.
                """),
        helpNames: []
    )

    @Argument(parsing: .captureForPassthrough, help: .private)
    var arguments: [String] = []

    func validate() throws {
        _ = try ServerSettingFlags.parse(Self.syntax, arguments, helpFor: Self.self)
    }

    func run() throws {
        let resolver = try ServerSettingFlags.resolver(Self.syntax, arguments, helpFor: Self.self)
        for line in EffectiveSetting.format(try resolver.effectiveSettings()) {
            StandardOutput.line(line)
        }
    }
}

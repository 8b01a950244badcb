import ArgumentParser
import Foundation
import TrustCore

/// `trustctl config show`: every effective setting of `echo-server`, one per
/// line, as name, value and origin — without starting anything.
struct ConfigShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print every effective echo-server setting as: name value origin.",
        discussion: "Origin is flag, env, file or default. A port set nowhere is shown as 'none'."
    )

    @OptionGroup var settings: ServerSettingsOptions

    func run() throws {
        let resolver = try settings.resolver(environment: ProcessInfo.processInfo.environment)
        for line in EffectiveSetting.format(try resolver.effectiveSettings()) {
            print(line)
        }
    }
}

import ArgumentParser

/// `trustctl config`: a group; it does nothing alone.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect the layered configuration.",
        subcommands: [ConfigShowCommand.self]
    )
}

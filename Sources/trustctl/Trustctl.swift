import ArgumentParser
import TrustCore

/// The root command. Subcommands are listed here only; each lives in its own file.
struct Trustctl: ParsableCommand {
    static let version = "trustctl 0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "trustctl",
        abstract: "A TCP echo server, client and load tester on a small C socket shim.",
        discussion: """
            Settings come from flags, then TRUST_ECHO_* / TRUST_LOG_LEVEL environment \
            variables, then $TRUST_HOME/config.json (TRUST_HOME defaults to ~/.trust), \
            then built-in defaults. 'trustctl config show' prints what is in effect. \
            Numbers use one grammar and one range table everywhere (docs/configuration.md).
            """,
        subcommands: [
            EchoServerCommand.self,
            EchoClientCommand.self,
            EchoLoadTestCommand.self,
            ConfigCommand.self,
        ]
    )

    /// The root's own flag rather than `CommandConfiguration.version`, which
    /// ArgumentParser would also list in every subcommand's help, apart from
    /// the options those commands declare (`CommandSyntax`).
    @Flag(help: "Show the version.")
    var version = false

    func run() throws {
        guard version else { throw CleanExit.helpRequest(Self.self) }
        StandardOutput.line(Trustctl.version)
    }
}

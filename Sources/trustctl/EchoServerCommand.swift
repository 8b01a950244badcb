import ArgumentParser
import Foundation
import TrustCore

/// `trustctl echo-server`: runs the echo server until SIGINT or SIGTERM.
struct EchoServerCommand: ParsableCommand {
    static let syntax = CommandSyntax(command: "echo-server", arguments: SettingFlag.all(markingRequired: true))

    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Run a TCP echo server (raw RFC 862, length-framed, or auto-detected per connection).",
        usage: "",
        discussion: syntax.help(
            prose: """
                Prints 'listening on HOST:PORT (mode M, N workers)' once ready, then serves until \
                SIGINT or SIGTERM, drains and exits 0; a second signal exits at once (128 + signal). \
                SIGHUP reopens the log file. --port is required from a flag, TRUST_ECHO_PORT or \
                config.json; --port 0 picks a free port. If the ready line cannot be written \
                (stdout full or closed), the server stops and exits 74. \
                Logs: $TRUST_HOME/logs/trustctl.log.
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
        // Socket activation (SPEC §15): taken before the settings are
        // resolved, as it makes --port optional (and before any thread).
        let inherited = try InheritedListeners.takeFromEnvironment() ?? []
        try EchoServer.run(
            settings: try resolver.resolveServerSettings(listenersInherited: !inherited.isEmpty),
            trustHome: resolver.trustHome, inherited: inherited)
    }
}

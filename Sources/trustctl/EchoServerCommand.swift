import ArgumentParser
import Foundation
import TrustCore

/// `trustctl echo-server`: runs the echo server until SIGINT or SIGTERM.
struct EchoServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Run a TCP echo server (raw RFC 862, length-framed, or auto-detected per connection).",
        discussion: """
            Prints 'listening on HOST:PORT (mode M, N workers)' once ready, then serves until \
            SIGINT or SIGTERM, drains and exits 0; a second signal exits at once (128 + signal). \
            SIGHUP reopens the log file. --port is required from a flag, TRUST_ECHO_PORT or \
            config.json; --port 0 picks a free port. Logs: $TRUST_HOME/logs/trustctl.log.
            """
    )

    @OptionGroup var settings: ServerSettingsOptions

    func run() throws {
        let resolver = try settings.resolver(environment: ProcessInfo.processInfo.environment)
        try EchoServer.run(settings: try resolver.resolveServerSettings(), trustHome: resolver.trustHome)
    }
}

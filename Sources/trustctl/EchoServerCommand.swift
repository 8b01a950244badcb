import ArgumentParser
import Foundation
import Logging
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
        // First, before any thread exists (the log writer's included): the
        // signals must be blocked in every thread so only the signalfd sees them.
        let signals = SignalEvents(SignalEvents.termination)
        let resolver = try settings.resolver(environment: ProcessInfo.processInfo.environment)
        let serverSettings = try resolver.resolveServerSettings()
        try resolver.trustHome.createLogsDirectory()
        let writer = try TrustLogging.bootstrap(
            logFile: resolver.trustHome.logFilePath, level: serverSettings.logLevel.value)
        defer {
            _ = writer.flush(timeout: .seconds(2))
            writer.close()
        }
        let logger = Logger(label: "trustctl.echo-server")
        let server = EchoServer(settings: serverSettings, logger: logger, signals: signals) {
            writer.reopen()
        }
        let outcome: EchoServer.Outcome
        do {
            outcome = try server.run { port in
                let settings = server.settings
                print(
                    EchoServer.readyLine(
                        host: settings.host.value, port: port, mode: settings.mode.value,
                        workers: settings.workers.value
                    ))
                fflush(nil)
            }
        } catch {
            logger.error(
                "server_failed",
                metadata: ["error": "\(error.message)", "errno": "\(error.errno?.name ?? "none")"])
            throw error
        }
        if case .interrupted(let signal) = outcome {
            throw TrustError.interrupted(signal: signal, message: "second signal: stopped without finishing the drain")
        }
    }
}

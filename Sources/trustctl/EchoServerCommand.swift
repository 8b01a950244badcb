import ArgumentParser
import Foundation
import Logging
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
        let flags = try ServerSettingFlags.parse(Self.syntax, arguments, helpFor: Self.self)
        // The configuration is read before the signals are blocked: until
        // the server's signal descriptor exists, Ctrl-C must still work.
        let resolver = try ServerSettingFlags.resolver(flags, environment: ProcessInfo.processInfo.environment)
        let serverSettings = try resolver.resolveServerSettings()
        // Then, before any thread exists (the log writer's included): the
        // signals must be blocked in every thread so only the signalfd sees them.
        let signals = try SignalEvents([SIGINT, SIGTERM, SIGHUP])
        try resolver.trustHome.createLogsDirectory()
        let writer = try TrustLogging.bootstrap(
            logFile: resolver.trustHome.logFilePath, level: serverSettings.logLevel)
        defer {
            _ = writer.flush(timeout: .seconds(2))
            writer.close()
        }
        let logger = Logger(label: "trustctl.echo-server")
        let server = EchoServer(settings: serverSettings, logger: logger, signals: signals) {
            writer.reopen()
        }
        let outcome: EchoServer.Outcome
        var readyLineFailure: StandardOutput.WriteError?
        do throws(TrustError) {
            outcome = try server.run { port in
                let options = server.options
                StandardOutput.line(
                    EchoServer.readyLine(host: options.host, port: port, mode: options.mode, workers: options.workers))
                do throws(StandardOutput.WriteError) {
                    try StandardOutput.flush()
                } catch {
                    // Nobody can learn the server is ready: stop it the way
                    // an operator would, through the signal path, and report.
                    readyLineFailure = error
                    logger.error("server_failed", metadata: ["error": "\(error.message)"])
                    kill(getpid(), SIGTERM)
                }
            }
        } catch {
            logger.error(
                "server_failed",
                metadata: ["error": "\(error.message)", "errno": "\(error.errno?.name ?? "none")"])
            throw error
        }
        if let readyLineFailure { throw readyLineFailure }
        if case .interrupted(let signal) = outcome {
            throw TrustError.interrupted(signal: signal, message: "second signal: stopped without finishing the drain")
        }
    }
}

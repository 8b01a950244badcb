import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Everything a server process does around its service, written once for
/// every protocol: `trustctl echo-server` and the examples run through it,
/// so each gets the settings (flags, environment, config.json), the JSON log,
/// signals, drain and exit codes of SPEC §4–§6 without a line of its own.
public enum ServerLauncher {
    /// Runs `handler` with resolved settings until SIGINT/SIGTERM drained it,
    /// on `inherited` listeners when a supervisor handed some over
    /// (`InheritedListeners.takeFromEnvironment()`, taken before settings are
    /// resolved, since it decides whether `--port` is needed).
    /// Throws what the CLI turns into one stderr line and an exit code.
    public static func run<Handler: StreamHandler>(
        _ handler: Handler, settings: ServerSettings, trustHome: TrustHome, logLabel: String,
        inherited: [InheritedListener] = []
    ) throws(TrustError) {
        let signals = SignalEvents(SignalEvents.termination)
        try trustHome.createLogsDirectory()
        let writer = try TrustLogging.bootstrap(logFile: trustHome.logFilePath, level: settings.logLevel)
        defer {
            _ = writer.flush(timeout: .seconds(2))
            writer.close()
        }
        let logger = Logger(label: logLabel)
        var options = ServiceOptions(settings)
        options.inheritedListeners = inherited
        options.tls = try TLSServerConfiguration(settings)
        let readyHost = inherited.first.map { "\($0.localAddress.address)" } ?? settings.host
        let service = StreamService(
            handler: handler, options: options, logger: logger, signals: signals,
            onHangup: { writer.reopen() })
        let outcome: ServiceOutcome
        var readyLineFailure: StandardOutput.WriteError?
        do throws(TrustError) {
            outcome = try service.run(
                onReady: { port in
                    StandardOutput.line(
                        readyLine(host: readyHost, port: port, label: handler.readyLabel, workers: settings.workers)
                    )
                    do throws(StandardOutput.WriteError) {
                        try StandardOutput.flush()
                    } catch {
                        // Nobody can learn the server is ready: stop it through
                        // the signal path (the drain runs) and exit 74.
                        readyLineFailure = error
                        logger.error("server_failed", metadata: ["error": "\(error.message)"])
                        kill(getpid(), SIGTERM)
                    }
                },
                onStopping: { active in
                    // A person at a terminal learns why the prompt has not come back yet.
                    if isatty(STDERR_FILENO) == 1 {
                        FileHandle.standardError.write(
                            Data("draining \(active) connection\(active == 1 ? "" : "s"); Ctrl-C again to quit\n".utf8))
                    }
                })
        } catch {
            logger.error(
                "server_failed", metadata: ["error": "\(error.message)", "errno": "\(error.errno?.name ?? "none")"])
            throw error
        }
        if let readyLineFailure {
            throw TrustError(kind: .closedEarly, message: readyLineFailure.message, errno: readyLineFailure.errno)
        }
        if case .interrupted(let signal) = outcome {
            throw TrustError.interrupted(signal: signal, message: "second signal: stopped without finishing the drain")
        }
    }

    /// The line printed on stdout once the server accepts connections:
    /// `listening on 0.0.0.0:9900 (mode auto, 2 workers)`.
    public static func readyLine(host: String, port: UInt16, label: String, workers: Int) -> String {
        let plural = workers == 1 ? "" : "s"
        return "listening on \(SocketAddress.display(host: host, port: port)) (\(label), \(workers) worker\(plural))"
    }

    /// A whole server `main` for a protocol built on the core: parses the
    /// server settings' flags (`--port 0`, `--timeout=5`, …, `--help`) from
    /// `arguments`, runs, and returns the exit status; failures print one
    /// line on stderr.
    public static func main<Handler: StreamHandler>(
        name: String, arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        _ makeHandler: (ServerSettings) -> Handler
    ) -> Int32 {
        do throws(TrustError) {
            guard let flags = try parseFlags(arguments) else {
                print("usage: \(name) --port <port> [setting flags]; settings also from TRUST_ECHO_* and config.json")
                for setting in ServerSetting.all {
                    print("  \(setting.flag) <\(setting.placeholder)>: \(setting.accepted)")
                }
                return 0
            }
            let inherited = try InheritedListeners.takeFromEnvironment() ?? []
            let resolver = ConfigResolver(
                flags: flags, environment: environment, trustHome: try TrustHome.locate(environment: environment))
            let settings = try resolver.resolveServerSettings(listenersInherited: !inherited.isEmpty)
            try run(
                makeHandler(settings), settings: settings, trustHome: resolver.trustHome, logLabel: name,
                inherited: inherited)
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(name): \(error.message)\n".utf8))
            return error.exitCode
        }
    }

    /// `--flag value` and `--flag=value` for every server setting; nil for
    /// `--help`. A value is taken as given (a negative number is a value, not
    /// a flag) and checked by the same parser as every other layer.
    static func parseFlags(_ arguments: [String]) throws(TrustError) -> [String: String]? {
        var flags: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--help" || argument == "-h" { return nil }
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts[0].hasPrefix("--"), let setting = ServerSetting.named(String(parts[0].dropFirst(2))) else {
                throw .usage("unknown option '\(argument)'")
            }
            let value: String
            if parts.count == 2 {
                value = parts[1]
            } else {
                guard index + 1 < arguments.count else { throw .usage("missing value for '\(setting.flag)'") }
                index += 1
                value = arguments[index]
            }
            flags[setting.name] = value
            index += 1
        }
        try ConfigResolver.checkFlags(flags)
        return flags
    }
}

extension ServiceOptions {
    /// The core's share of the server settings.
    public init(_ settings: ServerSettings) {
        self.init(
            host: settings.host, port: settings.port, idleTimeout: settings.idleTimeout,
            maxClients: settings.maxClients, workers: settings.workers, drainTimeout: settings.drainTimeout)
        io = settings.io
        metricsPort = settings.metricsPort
        metricsHost = settings.metricsHost
        proxyProtocol = settings.proxyProtocol
        proxyTrusted = settings.proxyTrusted
        transport = settings.transport
        udpRate = settings.udpRate
    }
}

import Logging

/// The echo server of SPEC §6: the service core with the echo handler the
/// mode names (`RawEcho`, `FramedEcho`, `AutoEcho`).
public final class EchoServer {
    public typealias Outcome = ServiceOutcome

    public let settings: EchoServerSettings
    private let logger: Logger
    private let signals: SignalEvents
    private let onHangup: @Sendable () -> Void

    /// - Parameters:
    ///   - signals: SIGINT, SIGTERM and SIGHUP as events.
    ///   - onHangup: called on SIGHUP, to reopen the log file.
    public init(
        settings: EchoServerSettings, logger: Logger, signals: SignalEvents,
        onHangup: @escaping @Sendable () -> Void
    ) {
        self.settings = settings
        self.logger = logger
        self.signals = signals
        self.onHangup = onHangup
    }

    /// The line printed on stdout once the server accepts connections.
    public static func readyLine(host: String, port: UInt16, mode: EchoMode, workers: Int) -> String {
        "listening on \(SocketAddress.display(host: host, port: port)) (mode \(mode.rawValue), \(workers) worker\(workers == 1 ? "" : "s"))"
    }

    /// Binds, starts the workers, calls `onReady` with the bound port, and
    /// serves until signalled; `onStopping` gets the open connections' count
    /// when a drain begins.
    public func run(onReady: (UInt16) -> Void, onStopping: (Int) -> Void = { _ in }) throws(TrustError) -> Outcome {
        let maxFrame = settings.maxFrame.value
        switch settings.mode.value {
        case .raw: return try serve(RawEcho(), onReady: onReady, onStopping: onStopping)
        case .framed: return try serve(FramedEcho(maxFrame: maxFrame), onReady: onReady, onStopping: onStopping)
        case .auto: return try serve(AutoEcho(maxFrame: maxFrame), onReady: onReady, onStopping: onStopping)
        }
    }

    /// One specialisation of the service per handler type.
    private func serve<Handler: StreamHandler>(
        _ handler: Handler, onReady: (UInt16) -> Void, onStopping: (Int) -> Void
    ) throws(TrustError) -> Outcome {
        let options = ServiceOptions(
            host: settings.host.value, port: settings.port.value, idleTimeout: settings.idleTimeout.value,
            maxClients: settings.maxClients.value, workers: settings.workers.value,
            drainTimeout: settings.drainTimeout.value)
        let service = StreamService(
            handler: handler, options: options, logger: logger, signals: signals, onHangup: onHangup)
        return try service.run(onReady: onReady, onStopping: onStopping)
    }
}

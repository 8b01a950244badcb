import CNetShim
import Foundation
import Logging
import Synchronization

/// The echo server of SPEC §6: a listening socket shared by `workers` event
/// loops (`EchoWorker`, one thread each, the listener registered with
/// EPOLLEXCLUSIVE so one loop wakes per connection), and this coordinator,
/// which turns signals into stop and reopen requests and sums the totals.
///
/// One shared listener rather than SO_REUSEPORT sockets per worker: with
/// SO_REUSEPORT a second server started on the same port by the same user
/// would silently share it instead of failing with "address in use".
public final class EchoServer {
    /// Everything the server runs with, resolved by the config layer.
    public struct Options: Sendable {
        public var host: String
        public var port: UInt16
        public var mode: EchoMode
        /// Seconds without progress before a connection is closed; 0 = never.
        public var idleTimeout: Double
        public var maxFrame: UInt32
        public var maxClients: Int
        public var workers: Int
        /// Seconds a graceful stop may take before connections are cut.
        public var drainTimeout: Double
        public var backlog: Int32 = 4096
        /// Slots per worker's connection table: the descriptor limit.
        var descriptorLimit: Int = 1024

        public init(
            host: String, port: UInt16, mode: EchoMode, idleTimeout: Double, maxFrame: UInt32, maxClients: Int,
            workers: Int, drainTimeout: Double
        ) {
            self.host = host
            self.port = port
            self.mode = mode
            self.idleTimeout = idleTimeout
            self.maxFrame = maxFrame
            self.maxClients = maxClients
            self.workers = workers
            self.drainTimeout = drainTimeout
        }
    }

    /// How `run` ended.
    public enum Outcome: Sendable, Equatable {
        /// Stopped by SIGINT/SIGTERM after draining (exit 0).
        case drained
        /// A second signal arrived during the drain: stop at once.
        case interrupted(signal: Int32)
    }

    public let options: Options
    private let logger: Logger
    private let signals: SignalEvents
    private let onHangup: @Sendable () -> Void

    /// - Parameters:
    ///   - signals: SIGINT, SIGTERM and SIGHUP as events; create it before
    ///     any thread starts (see `SignalEvents`).
    ///   - onHangup: called on SIGHUP, to reopen the log file.
    public init(options: Options, logger: Logger, signals: SignalEvents, onHangup: @escaping @Sendable () -> Void) {
        var options = options
        options.descriptorLimit = DescriptorLimit.raise()
        self.options = options
        self.logger = logger
        self.signals = signals
        self.onHangup = onHangup
    }

    /// The line printed on stdout once the server accepts connections.
    public static func readyLine(host: String, port: UInt16, mode: EchoMode, workers: Int) -> String {
        "listening on \(SocketAddress.display(host: host, port: port)) (mode \(mode.rawValue), \(workers) worker\(workers == 1 ? "" : "s"))"
    }

    /// Binds, starts the workers, calls `onReady` with the bound port, and
    /// serves until signalled.
    public func run(onReady: (UInt16) -> Void) throws(TrustError) -> Outcome {
        let started = MonotonicClock.coarseMilliseconds()
        var bound: UInt16 = 0
        let listenFD = cnet_tcp_listen_host(options.host, options.port, options.backlog, CNET_NONBLOCK, &bound)
        if listenFD < 0 {
            throw TrustError.system(
                Errno(rawValue: listenFD),
                operation: "cannot listen on \(SocketAddress.display(host: options.host, port: options.port))")
        }
        defer { _ = cnet_close(listenFD) }

        let state = EchoServerState()
        let finished = try EventLoop()
        var workers: [EchoWorker] = []
        for index in 0..<options.workers {
            var workerLogger = logger
            workerLogger[metadataKey: "worker"] = nil
            workers.append(
                try EchoWorker(index: index, listenFD: listenFD, options: options, state: state, logger: workerLogger))
        }
        let finishedWaker = finished.waker
        for worker in workers {
            LoopThread.start(
                name: "echo-worker-\(worker.index)", handing: worker, onExit: { finishedWaker.wake() }
            ) { worker in
                worker.run()
                state.deposit(worker.totals)
            }
        }

        logger.info(
            "server_started",
            metadata: [
                "host": "\(options.host)", "port": .stringConvertible(bound), "mode": "\(options.mode.rawValue)",
                "workers": .stringConvertible(options.workers), "max_clients": .stringConvertible(options.maxClients),
                "max_frame": .stringConvertible(options.maxFrame), "timeout_s": .stringConvertible(options.idleTimeout),
                "drain_timeout_s": .stringConvertible(options.drainTimeout),
                "fd_limit": .stringConvertible(options.descriptorLimit),
            ])
        onReady(bound)

        let outcome = coordinate(workers: workers, state: state, finished: finished)
        if case .interrupted = outcome { return outcome }

        let totals = state.totals()
        logger.info(
            "server_stopped",
            metadata: [
                "connections": .stringConvertible(totals.accepted), "refused": .stringConvertible(totals.refused),
                "shed": .stringConvertible(totals.shed),
                "forced_closes": .stringConvertible(totals.forcedCloses),
                "bytes_in": .stringConvertible(totals.bytesIn),
                "bytes_out": .stringConvertible(totals.bytesOut), "frames": .stringConvertible(totals.frames),
                "duration_ms": .stringConvertible(MonotonicClock.coarseMilliseconds() - started),
            ])
        return outcome
    }

    /// The coordinator's loop: signals and worker completions as events.
    private func coordinate(workers: [EchoWorker], state: EchoServerState, finished: EventLoop) -> Outcome {
        guard finished.add(signals.fd, .read, token: 1) == nil else {
            fatalError("epoll_ctl on a fresh epoll and signalfd cannot fail")
        }
        var stopping = false
        var done = 0
        while done < workers.count {
            let ready = finished.wait(timeoutMs: -1)
            for i in 0..<ready {
                if finished.token(at: i) == EventLoop.wakeToken {
                    let count = cnet_eventfd_drain(finished.wakeFD)
                    if count > 0 { done += Int(count) }
                    continue
                }
                while let signo = signals.next() {
                    if signo == SIGHUP {
                        onHangup()
                        logger.info("log_reopened", metadata: ["signal": "SIGHUP"])
                        continue
                    }
                    if stopping {
                        logger.warning(
                            "server_stopped",
                            metadata: ["signal": "\(EchoServer.signalName(signo))", "forced": "true"])
                        return .interrupted(signal: signo)
                    }
                    stopping = true
                    logger.info(
                        "server_stopping",
                        metadata: [
                            "signal": "\(EchoServer.signalName(signo))",
                            "active_connections": .stringConvertible(state.activeClients.load(ordering: .relaxed)),
                        ])
                    state.requestStop()
                    for worker in workers { worker.loop.waker.wake() }
                }
            }
        }
        return .drained
    }

    static func signalName(_ signo: Int32) -> String {
        switch signo {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signo)"
        }
    }
}

/// What workers share: the global client count for --max-clients, the
/// connection serial for request ids, the stop flag, and the totals
/// handed over as each worker finishes.
final class EchoServerState: Sendable {
    let activeClients = Atomic<Int>(0)
    let nextSerial = Atomic<UInt64>(0)
    private let stop = Atomic<Bool>(false)
    private let finishedTotals = Mutex(EchoTotals())
    /// Distinguishes this run's request ids from another run's in the same log.
    let runTag: String = {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return String(repeating: "0", count: 8 - tag.count) + tag
    }()

    var stopRequested: Bool { stop.load(ordering: .acquiring) }
    func requestStop() { stop.store(true, ordering: .releasing) }

    func requestID(_ serial: UInt64) -> String { "\(runTag)-\(serial)" }

    func deposit(_ totals: EchoTotals) { finishedTotals.withLock { $0.add(totals) } }
    func totals() -> EchoTotals { finishedTotals.withLock { $0 } }
}

extension EchoServer {
    /// A server for resolved settings (see `ConfigResolver`).
    public convenience init(
        settings: ServerSettings, logger: Logger, signals: SignalEvents,
        onHangup: @escaping @Sendable () -> Void
    ) {
        let options = Options(
            host: settings.host, port: settings.port, mode: settings.mode, idleTimeout: settings.idleTimeout,
            maxFrame: settings.maxFrame, maxClients: settings.maxClients, workers: settings.workers,
            drainTimeout: settings.drainTimeout)
        self.init(options: options, logger: logger, signals: signals, onHangup: onHangup)
    }
}

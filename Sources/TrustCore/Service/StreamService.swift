import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP server: listening sockets shared by `workers` event loops
/// (`StreamWorker`, one thread each; EPOLLEXCLUSIVE wakes one loop per
/// connection), and this coordinator, which turns signals into stop and
/// reopen requests and reports the totals. What each connection does with
/// its bytes is the `Handler`'s.
///
/// One shared listener rather than SO_REUSEPORT sockets per worker: with
/// SO_REUSEPORT a second server started on the same port by the same user
/// would silently share it instead of failing with "address in use".
public final class StreamService<Handler: StreamHandler> {
    public let handler: Handler
    public let options: ServiceOptions
    private let logger: Logger
    private let signals: SignalEvents
    private let onHangup: @Sendable () -> Void
    private let state = ServiceState()
    private var counters: [WorkerCounters] = []
    /// The UDP echo's (transport udp or both), for metrics and totals.
    private var datagramCounters: DatagramCounters?
    private var datagramWaker: EventLoop.Waker?

    /// - Parameters:
    ///   - signals: SIGINT, SIGTERM and SIGHUP as events (activated when the
    ///     service is ready to read them).
    ///   - onHangup: called on SIGHUP, to reopen the log file.
    public init(
        handler: Handler, options: ServiceOptions, logger: Logger, signals: SignalEvents,
        onHangup: @escaping @Sendable () -> Void
    ) {
        var options = options
        options.descriptorLimit = DescriptorLimit.raise()
        self.handler = handler
        self.options = options
        self.logger = logger
        self.signals = signals
        self.onHangup = onHangup
    }

    /// Binds (or takes the inherited listeners), starts the workers, calls
    /// `onReady` with the bound port, and serves until signalled.
    /// `onStopping` is called with the number of open connections when the
    /// first stop signal begins the drain.
    public func run(onReady: (UInt16) -> Void, onStopping: (Int) -> Void = { _ in }) throws(TrustError)
        -> ServiceOutcome
    {
        let started = MonotonicClock.coarseMilliseconds()
        // The TLS files are read before anything is bound: a bad one is a config error (78).
        let tlsStore = try options.tls.map { configuration throws(TrustError) in
            try TLSContextStore(configuration)
        }
        var (listeners, bound) = options.transport.servesTCP ? try listen() : ([], options.port)
        defer { if options.inheritedListeners.isEmpty { for fd in listeners { _ = cnet_close(fd) } } }
        // UDP on the same host and port (port 0: the one TCP got, or a free one).
        let udp = options.transport.servesUDP ? try bindDatagrams(beside: &listeners, port: &bound) : nil
        defer { if let udp { _ = cnet_close(udp.fd) } }
        if let udp { bound = udp.port }

        let backend = try options.io.resolve()
        let finished = try EventLoop()
        let endpoint = try options.metricsPort.map { port throws(TrustError) in
            try MetricsEndpoint(host: options.metricsHost, port: port, loop: finished)
        }
        var workers: [StreamWorker<Handler>] = []
        for index in 0..<(options.transport.servesTCP ? options.workers : 0) {
            workers.append(
                try StreamWorker(
                    index: index, handler: handler, listeners: listeners, options: options, backend: backend,
                    state: state, logger: logger))
            if let tlsStore { workers[index].io.tls = WorkerTLS(store: tlsStore) }
        }
        counters = workers.map(\.io.counters)
        let finishedWaker = finished.waker
        let state = self.state
        let datagram = try udp.map { udp throws(TrustError) in
            try DatagramWorker(fd: udp.fd, rate: options.udpRate, backend: backend, state: state, logger: logger)
        }
        datagramCounters = datagram?.counters
        datagramWaker = datagram?.waker
        if let datagram {
            LoopThread.start(name: "udp", handing: datagram, onExit: { finishedWaker.wake() }) { worker in
                do throws(TrustError) {
                    try worker.run()
                } catch {
                    state.fail(error)
                }
            }
        }
        let loops = workers.count + (datagram == nil ? 0 : 1)
        for worker in workers {
            let body: @Sendable (StreamWorker<Handler>) -> Void = { worker in
                do throws(TrustError) {
                    try worker.run()
                } catch {
                    state.fail(error)
                }
            }
            LoopThread.start(name: "worker-\(worker.index)", handing: worker, onExit: { finishedWaker.wake() }, body)
        }
        // Ready means every worker's loop exists (an io_uring ring is set up
        // on its worker's thread): a worker that cannot start fails the start.
        state.waitForWorkersSetUp(loops)
        if let failure = state.failure {
            stopWorkers(workers)
            waitForWorkers(loops, finished: finished)
            throw failure
        }
        try signals.activate()

        var fields: Logger.Metadata = [
            "host": "\(options.inheritedListeners.first.map { "\($0.localAddress.address)" } ?? options.host)",
            "port": .stringConvertible(bound),
            "workers": .stringConvertible(options.workers), "max_clients": .stringConvertible(options.maxClients),
            "timeout_s": .stringConvertible(options.idleTimeout),
            "drain_timeout_s": .stringConvertible(options.drainTimeout),
            "fd_limit": .stringConvertible(options.descriptorLimit), "io": "\(backend.rawValue)",
            "transport": "\(options.transport.logName)",
        ]
        if udp != nil { fields["udp_rate"] = .stringConvertible(options.udpRate) }
        if !options.inheritedListeners.isEmpty {
            // Socket activation: the supervisor bound these; --host and --port were not used.
            fields["listeners"] = "inherited"
            fields["addresses"] = "\(options.inheritedListeners.map(\.localAddress.description).joined(separator: ","))"
        }
        if let endpoint {
            fields["metrics_host"] = "\(options.metricsHost)"
            fields["metrics_port"] = .stringConvertible(endpoint.port)
        }
        if let tls = options.tls {
            fields["tls"] = "on"
            fields["tls_client_auth"] = tls.clientCAFile == nil ? "off" : "required"
        }
        fields.merge(handler.startFields) { _, protocolValue in protocolValue }
        logger.info("server_started", metadata: fields)
        onReady(bound)

        let build = BuildInfo(version: MetricsEndpoint.version, labels: [("io_backend", backend.rawValue)])
        let startTime = Double(MetricsEndpoint.unixTime())
        let outcome = coordinate(
            workers: workers, loops: loops, finished: finished, endpoint: endpoint, tls: tlsStore,
            render: { MetricsExposition.render(self.metricsSnapshot(), build: build, startTime: startTime) },
            onStopping: onStopping)
        if let failure = state.failure { throw failure }
        if case .interrupted = outcome { return outcome }

        let totals = self.totals
        var stopped: Logger.Metadata = [:]
        if let datagramCounters {
            stopped["datagrams_in"] = .stringConvertible(datagramCounters.value(.received))
            stopped["datagrams_out"] = .stringConvertible(datagramCounters.value(.sent))
            stopped["datagrams_dropped"] = .stringConvertible(datagramCounters.droppedTotal)
            stopped["udp_bytes_in"] = .stringConvertible(datagramCounters.value(.bytesIn))
            stopped["udp_bytes_out"] = .stringConvertible(datagramCounters.value(.bytesOut))
        }
        logger.info(
            "server_stopped",
            metadata: stopped.merging([
                "connections": .stringConvertible(totals.accepted), "refused": .stringConvertible(totals.refused),
                "shed": .stringConvertible(totals.shed),
                "forced_closes": .stringConvertible(totals.forcedCloses),
                "bytes_in": .stringConvertible(totals.bytesIn),
                "bytes_out": .stringConvertible(totals.bytesOut), "frames": .stringConvertible(totals.frames),
                "log_lines_dropped": .stringConvertible(TrustLogging.droppedLines(for: logger)),
                "duration_ms": .stringConvertible(MonotonicClock.coarseMilliseconds() - started),
            ]) { _, core in core })
        return outcome
    }

    /// Every worker's counters summed now; callable from any thread while
    /// the service runs (the metrics endpoint) and after it stopped.
    public var totals: ServiceTotals {
        ServiceTotals(counters, reasons: CloseReason.coreReasons + Handler.closeReasons)
    }

    /// What `/metrics` shows now: the workers' counters summed, every known
    /// close and refusal reason present (0 until it happens).
    private func metricsSnapshot() -> MetricsSnapshot {
        let totals = self.totals
        var snapshot = MetricsSnapshot()
        snapshot.connectionsAccepted = totals.accepted
        snapshot.connectionsActive = UInt64(max(0, state.activeClients.load(ordering: .relaxed)))
        snapshot.connectionsRefused = totals.refusedByReason
        snapshot.connectionsRefused["shed", default: 0] &+= totals.shed
        snapshot.connectionsClosed = totals.closedByReason
        snapshot.bytesReceived = totals.bytesIn
        snapshot.bytesSent = totals.bytesOut
        // A completed frame is echoed whole: one count serves both directions.
        snapshot.framesReceived = totals.frames
        snapshot.framesSent = totals.frames
        snapshot.acceptPauses = totals.acceptPauses
        snapshot.tlsHandshakes = totals.tlsHandshakes
        snapshot.tlsHandshakeFailures = totals.tlsHandshakeFailures
        snapshot.logLinesDropped = TrustLogging.droppedLines(for: logger)
        if let datagramCounters {
            snapshot.udpDatagramsReceived = datagramCounters.value(.received)
            snapshot.udpDatagramsSent = datagramCounters.value(.sent)
            snapshot.udpDatagramsDropped = datagramCounters.droppedByReason
        }
        return snapshot
    }

    /// The UDP socket on `port`. With `--transport both --port 0` the port
    /// TCP picked may be taken for UDP: then TCP picks again (a few times).
    private func bindDatagrams(beside listeners: inout [Int32], port: inout UInt16) throws(TrustError) -> (
        fd: Int32, port: UInt16
    ) {
        var attempts = 0
        while true {
            do throws(TrustError) {
                return try DatagramSocket.bind(host: options.host, port: port)
            } catch {
                let retry =
                    error.errno == .addressInUse && options.port == 0 && options.transport.servesTCP
                    && options.inheritedListeners.isEmpty && attempts < 8
                guard retry else { throw error }
                attempts += 1
                for fd in listeners { _ = cnet_close(fd) }
                listeners = []
                (listeners, port) = try listen()
            }
        }
    }

    /// The listening sockets and the port they are bound to.
    private func listen() throws(TrustError) -> ([Int32], UInt16) {
        if let first = options.inheritedListeners.first {
            return (options.inheritedListeners.map(\.descriptor), first.localAddress.port)
        }
        let (fd, bound) = try SocketAddress.listen(
            host: options.host, port: options.port, backlog: options.backlog, flags: CNET_NONBLOCK)
        return ([fd], bound)
    }

    /// The coordinator's loop: signals, worker completions and the metrics
    /// endpoint's sockets as events. `/readyz` turns 503 the moment the drain begins.
    private func coordinate(
        workers: [StreamWorker<Handler>], loops: Int, finished: EventLoop, endpoint: MetricsEndpoint?,
        tls: TLSContextStore?,
        render: () -> [UInt8], onStopping: (Int) -> Void
    ) -> ServiceOutcome {
        guard finished.add(signals.fd, .read, token: 1) == nil else {
            fatalError("epoll_ctl on a fresh epoll and signalfd cannot fail")
        }
        var stopping = false
        var done = 0
        while done < loops {
            // A failing coordinator loop cannot serve signals: stop the
            // workers and let run() report it.
            let ready: Int
            do {
                ready = try finished.wait(
                    timeoutMs: endpoint?.timeoutMs(now: MonotonicClock.coarseMilliseconds()) ?? -1)
            } catch {
                state.fail(error)
                stopWorkers(workers)
                return .drained
            }
            let now = MonotonicClock.coarseMilliseconds()
            for i in 0..<ready {
                let token = finished.token(at: i)
                if let endpoint, endpoint.owns(token) {
                    endpoint.handle(token: token, now: now) { head in
                        OpsResponder.response(
                            to: head, isReady: !stopping, unixTime: MetricsEndpoint.unixTime(), metrics: render
                        ).bytes
                    }
                    continue
                }
                if token == EventLoop.wakeToken {
                    let count = cnet_eventfd_drain(finished.wakeFD)
                    if count > 0 { done += Int(count) }
                    if state.failure != nil && !stopping {
                        stopping = true
                        stopWorkers(workers)
                    }
                    continue
                }
                while let signo = signals.next() {
                    if signo == SIGHUP {
                        onHangup()
                        logger.info("log_reopened", metadata: ["signal": "SIGHUP"])
                        tls?.reload(logger: logger)
                        continue
                    }
                    if stopping {
                        logger.warning(
                            "server_stopped",
                            metadata: ["signal": "\(SignalEvents.name(signo))", "forced": "true"])
                        return .interrupted(signal: signo)
                    }
                    stopping = true
                    let active = state.activeClients.load(ordering: .relaxed)
                    logger.info(
                        "server_stopping",
                        metadata: [
                            "signal": "\(SignalEvents.name(signo))",
                            "active_connections": .stringConvertible(active),
                        ])
                    onStopping(active)
                    stopWorkers(workers)
                }
            }
            endpoint?.expire(now: now)
        }
        return .drained
    }

    /// Bounded: workers without connections end at once when stopped.
    private func waitForWorkers(_ count: Int, finished: EventLoop) {
        var done = 0
        let deadline = MonotonicClock.coarseMilliseconds() + 10_000
        while done < count && MonotonicClock.coarseMilliseconds() < deadline {
            if ((try? finished.wait(timeoutMs: 100)) ?? 0) > 0 {
                let ended = cnet_eventfd_drain(finished.wakeFD)
                if ended > 0 { done += Int(ended) }
            }
        }
    }

    private func stopWorkers(_ workers: [StreamWorker<Handler>]) {
        state.requestStop()
        for worker in workers { worker.waker.wake() }
        datagramWaker?.wake()
    }
}

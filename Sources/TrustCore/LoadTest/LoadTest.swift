import CNetShim
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-load-test` (SPEC §8): resolves the target once, spreads the
/// connection slots over `threads` event loops (`LoadTestEngine`), runs
/// them, and sums what they counted into a `LoadTestReport`.
public struct LoadTest: Sendable {
    public let options: LoadTestOptions

    public init(options: LoadTestOptions) throws(TrustError) {
        try options.validate()
        self.options = options
    }

    /// Descriptors kept free beyond one per connection (stdio, epoll,
    /// eventfds, the resolver).
    static let descriptorReserve = 32

    /// Runs the test. Throws only when it cannot start (unresolvable host,
    /// too few descriptors); failures during the run are in the report.
    /// - Parameters:
    ///   - progress: draw the progress display on stderr (callers pass
    ///     `isatty(2)`: it is for a person watching a terminal).
    ///   - signals: signals that stop the run early (the CLI passes SIGINT
    ///     and SIGTERM); the report then covers what was measured until
    ///     then and says which signal stopped it. Empty: signals keep
    ///     their usual effect (a library caller's own choice).
    ///   - onInterval: with `--interval`, called on this thread with each
    ///     interval as it completes.
    public func run(
        progress showProgress: Bool = false, stoppingOn signals: [Int32] = [],
        onInterval: ((LoadInterval) -> Void)? = nil
    ) throws(TrustError) -> LoadTestReport {
        // Saturating: the timeout may be any value validation accepts.
        let probeMs =
            (options.timeout * 1000).isFinite ? Int32(min(max(options.timeout * 1000, 1), 2e9)) : 2_000_000_000
        let (address, length) = try SocketAddress.firstReachable(
            host: options.host, port: options.port, timeoutMs: probeMs)
        let limit = DescriptorLimit.raise()
        let concurrency = options.effectiveConcurrency
        if concurrency + LoadTest.descriptorReserve > limit {
            throw TrustError(
                kind: .system,
                message:
                    "--concurrency \(concurrency) needs \(concurrency + LoadTest.descriptorReserve) descriptors but the limit is \(limit) (raise it with ulimit -n)",
                errno: .tooManyOpenFiles, operation: "setrlimit")
        }

        // TLS connections are driven through readiness (OpenSSL over memory
        // BIOs in LoadTestEngine+TLS.swift): epoll, whatever --io says.
        let backend = options.tls != nil ? IOBackend.epoll : try options.io.resolve()
        let progress = showProgress ? LoadTestProgress() : nil
        let stopRequest = StopRequest()
        var engines: [LoadTestEngine] = []
        for share in LoadTest.shares(of: options) {
            engines.append(
                try LoadTestEngine(
                    options: options, share: share, address: address, addressLength: length, progress: progress,
                    stopRequest: stopRequest, backend: backend))
        }
        try attachTLS(engines)
        let wakers = engines.map(\.waker)
        let sources = try LoadTest.sourceAddresses(options, family: address.ss_family)
        for (index, engine) in engines.enumerated() {
            engine.measure.sources = sources
            if !sources.isEmpty { engine.measure.nextSource = index % sources.count }
        }

        let startedAtUnix = Date().timeIntervalSince1970
        let cpuBefore = LoadRunInfo.cpuSeconds()
        let startedAt = MonotonicClock.nanoseconds()
        let display = progress.map { ProgressDisplay(options: options, progress: $0, startedAt: startedAt) }
        // Before the threads start: they inherit its blocked signals.
        let monitor = try LoadTestMonitor(stoppingOn: signals, stopRequest: stopRequest, display: display)
        let loopFinished = monitor.loopFinished
        LoadTest.attachIntervals(options, engines, monitor, startedAt: startedAt, onInterval: onInterval)
        let failure = Mutex<TrustError?>(nil)
        let threads = engines.map { engine in
            LoopThread.start(name: "load-test", handing: engine, onExit: loopFinished) { engine in
                do throws(TrustError) {
                    try engine.run(startedAt: startedAt)
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }
        try monitor.watch(threads, wakers: wakers)
        if let error = failure.withLock({ $0 }) { throw error }
        let wall = Double(MonotonicClock.nanoseconds() - startedAt) / 1e9
        let cpuAfter = LoadRunInfo.cpuSeconds()

        var tally = LoadTestTally()
        for engine in engines { tally.add(engine.tally) }
        tally.interruptedBy = stopRequest.signal
        var report = LoadTestReport(options: options, tally: tally, wallSeconds: wall, backend: backend)
        report.run.startedAtUnix = startedAtUnix
        report.run.userSeconds = cpuAfter.user - cpuBefore.user
        report.run.systemSeconds = cpuAfter.system - cpuBefore.system
        report.run.loops = engines.count
        report.run.intervals = monitor.delivered
        return report
    }

    /// `--source-ip`, resolved (literals only) and checked against the
    /// server's address family.
    static func sourceAddresses(_ options: LoadTestOptions, family: sa_family_t) throws(TrustError) -> [cnet_address] {
        guard let list = options.measuring.sourceAddresses else { return [] }
        var sources: [cnet_address] = []
        for text in list.addresses {
            guard let first = try SocketAddress.resolveAll(host: text, port: 0, passive: true).first else { continue }
            guard first.addr.ss_family == family else {
                throw .usage("--source-ip \(text): not the address family of the server address \(options.host)")
            }
            sources.append(first)
        }
        return sources
    }

    /// `--interval`: one collector for all loops, drained by the monitor.
    private static func attachIntervals(
        _ options: LoadTestOptions, _ engines: [LoadTestEngine], _ monitor: LoadTestMonitor, startedAt: Int64,
        onInterval: ((LoadInterval) -> Void)?
    ) {
        guard let interval = options.measuring.interval else { return }
        let firstStart = LoadSchedule.adding(
            startedAt, LoadSchedule.nanoseconds(seconds: options.measuring.warmup ?? 0))
        let collector = LoadIntervalCollector(
            loops: engines.count, runStartNs: startedAt, firstStartNs: firstStart,
            intervalNs: max(LoadSchedule.nanoseconds(seconds: interval), 1), waker: monitor.waker)
        for engine in engines { engine.measure.collector = collector }
        monitor.intervals = collector
        monitor.onInterval = onInterval
    }

    /// Slots and clients divided as evenly as possible over the loops; a
    /// loop without a slot is not started.
    static func shares(of options: LoadTestOptions) -> [LoadTestEngine.Share] {
        let concurrency = options.effectiveConcurrency
        let loops = min(options.threads, concurrency)
        var shares: [LoadTestEngine.Share] = []
        var firstClient = 0
        var firstSlot = 0
        for index in 0..<loops {
            let slots = concurrency / loops + (index < concurrency % loops ? 1 : 0)
            let clients = options.clients / loops + (index < options.clients % loops ? 1 : 0)
            shares.append(.init(slots: slots, clients: clients, firstClient: firstClient, firstSlot: firstSlot))
            firstClient += clients
            firstSlot += slots
        }
        return shares
    }
}

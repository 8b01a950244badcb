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
    /// - Parameter progress: draw a progress bar on stderr (callers pass
    ///   `isatty(2)`: a bar is for a person watching a terminal).
    public func run(progress showProgress: Bool = false) throws(TrustError) -> LoadTestReport {
        let (address, length) = try SocketAddress.firstReachable(
            host: options.host, port: options.port, timeoutMs: Int32(clamping: Int64(options.timeout * 1000)))
        let limit = DescriptorLimit.raise()
        let concurrency = options.effectiveConcurrency
        if concurrency + LoadTest.descriptorReserve > limit {
            throw TrustError(
                kind: .system,
                message:
                    "--concurrency \(concurrency) needs \(concurrency + LoadTest.descriptorReserve) descriptors but the limit is \(limit) (raise it with ulimit -n)",
                errno: .tooManyOpenFiles, operation: "setrlimit")
        }

        let progress = showProgress ? LoadTestProgress() : nil
        var engines: [LoadTestEngine] = []
        for share in LoadTest.shares(of: options) {
            engines.append(
                try LoadTestEngine(
                    options: options, share: share, address: address, addressLength: length, progress: progress))
        }

        let startedAt = MonotonicClock.nanoseconds()
        let failure = Mutex<TrustError?>(nil)
        let threads = engines.map { engine in
            LoopThread.start(name: "load-test", handing: engine) { engine in
                do throws(TrustError) {
                    try engine.run(startedAt: startedAt)
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }
        var bar = progress.map { ProgressBar(options: options, progress: $0, startedAt: startedAt) }
        for thread in threads {
            while !thread.join(milliseconds: 200) { bar?.draw() }
        }
        bar?.clear()
        if let error = failure.withLock({ $0 }) { throw error }
        let wall = Double(MonotonicClock.nanoseconds() - startedAt) / 1e9

        var tally = LoadTestTally()
        for engine in engines { tally.add(engine.tally) }
        return LoadTestReport(options: options, tally: tally, wallSeconds: wall)
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

/// A one-line progress bar on stderr, redrawn in place.
struct ProgressBar {
    let options: LoadTestOptions
    let progress: LoadTestProgress
    let startedAt: Int64
    static let width = 30

    mutating func draw() {
        let done = progress.count
        let fraction: Double
        let text: String
        if let duration = options.duration {
            let elapsed = Double(MonotonicClock.nanoseconds() - startedAt) / 1e9
            fraction = min(1, elapsed / duration)
            text = String(format: "%.1f/%.1f s, %d round trips", min(elapsed, duration), duration, done)
        } else {
            let total = options.clients * options.messages
            fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
            text = "\(done)/\(total) round trips"
        }
        let filled = Int(fraction * Double(ProgressBar.width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: ProgressBar.width - filled)
        ProgressBar.write("\r[\(bar)] \(text)\u{1B}[K")
    }

    func clear() { ProgressBar.write("\r\u{1B}[K") }

    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

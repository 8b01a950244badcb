import Dispatch
import Synchronization

/// What a service's workers share: the global client count for
/// `--max-clients`, the connection serial for request ids, the stop flag,
/// and the first fatal error a worker met.
final class ServiceState: Sendable {
    let activeClients = Atomic<Int>(0)
    let nextSerial = Atomic<UInt64>(0)
    private let stop = Atomic<Bool>(false)
    private let fatal = Mutex<TrustError?>(nil)
    /// Distinguishes this run's request ids from another run's in the same log.
    let runTag: String = {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return String(repeating: "0", count: 8 - tag.count) + tag
    }()

    /// Signalled once by each worker when its loop is set up (or failed):
    /// the service is announced only after every worker is ready.
    private let setUp = DispatchSemaphore(value: 0)

    func workerSetUp() { setUp.signal() }

    func waitForWorkersSetUp(_ count: Int) {
        for _ in 0..<count { setUp.wait() }
    }

    var stopRequested: Bool { stop.load(ordering: .acquiring) }
    func requestStop() { stop.store(true, ordering: .releasing) }

    func requestID(_ serial: UInt64) -> String { "\(runTag)-\(serial)" }

    /// A worker cannot go on (its event loop failed): remembered for the
    /// coordinator, which stops the service and reports it.
    func fail(_ error: TrustError) { fatal.withLock { if $0 == nil { $0 = error } } }
    var failure: TrustError? { fatal.withLock { $0 } }
}

import Synchronization

/// A request to stop the run now, made by the thread that reads the signals
/// (SIGINT, SIGTERM) and read by each loop when its waker fires.
final class StopRequest: Sendable {
    private let requestedBy = Atomic<Int32>(0)

    /// Records the signal that asked for the stop (the first one wins).
    func request(signal: Int32) {
        _ = requestedBy.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
    }

    /// The signal that asked for the stop, nil while none did.
    var signal: Int32? {
        let value = requestedBy.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
}

import Synchronization

/// What one worker counted since it started: the totals of `server_stopped`
/// and, read live from another thread, the metrics endpoint's numbers.
///
/// Only the worker's own thread writes, with a relaxed load and store (a
/// plain `mov` on x86-64, never a locked read-modify-write), so the echo path
/// pays no shared atomic per message; readers sum the workers' values.
/// Sendable by hand: the pointer is only ever used to reach the atomics,
/// allocated in `init` and freed in `deinit`.
final class WorkerCounters: @unchecked Sendable {
    enum Field: Int, CaseIterable {
        case accepted
        case refusedMaxClients
        case refusedFdLimit
        case refusedError
        /// Times accepting was paused for lack of descriptors.
        case acceptPauses
        /// Pending connections accepted and closed at once while out of descriptors.
        case shed
        case bytesIn
        case bytesOut
        case frames
        /// Connections closed at the drain deadline with output still pending.
        case forcedCloses
        case tlsHandshakes
        case tlsHandshakeFailures
    }

    /// One counter per field, then one per close-reason code.
    private let values: UnsafeMutablePointer<Atomic<UInt64>>
    private static let closedBase = Field.allCases.count
    private static let count = closedBase + 256

    init() {
        values = .allocate(capacity: WorkerCounters.count)
        for index in 0..<WorkerCounters.count { (values + index).initialize(to: Atomic(0)) }
    }

    deinit {
        values.deinitialize(count: WorkerCounters.count)
        values.deallocate()
    }

    /// Owner thread only.
    @inline(__always)
    func add(_ field: Field, _ amount: UInt64 = 1) {
        bump(WorkerCounters.index(field), amount)
    }

    /// Owner thread only.
    @inline(__always)
    func addClosed(code: UInt8) {
        bump(WorkerCounters.closedBase + Int(code), 1)
    }

    func value(_ field: Field) -> UInt64 { values[WorkerCounters.index(field)].load(ordering: .relaxed) }

    func closed(code: UInt8) -> UInt64 { values[WorkerCounters.closedBase + Int(code)].load(ordering: .relaxed) }

    @inline(__always)
    private static func index(_ field: Field) -> Int { field.rawValue }

    /// Safe: `index` is below `count` by construction (a field's raw value
    /// or `closedBase` plus a byte), and only the owner thread stores.
    @inline(__always)
    private func bump(_ index: Int, _ amount: UInt64) {
        let counter = values + index
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }
}

/// The sum of every worker's counters at one moment.
public struct ServiceTotals: Sendable, Equatable {
    public var accepted: UInt64 = 0
    public var refused: UInt64 = 0
    public var refusedByReason: [String: UInt64] = [:]
    public var acceptPauses: UInt64 = 0
    public var shed: UInt64 = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    public var frames: UInt64 = 0
    public var forcedCloses: UInt64 = 0
    public var tlsHandshakes: UInt64 = 0
    public var tlsHandshakeFailures: UInt64 = 0
    public var closed: UInt64 = 0
    public var closedByReason: [String: UInt64] = [:]

    init(_ workers: [WorkerCounters], reasons: [CloseReason]) {
        for counters in workers {
            accepted &+= counters.value(.accepted)
            let refusals: [(String, WorkerCounters.Field)] = [
                ("max_clients", .refusedMaxClients), ("fd_limit", .refusedFdLimit), ("error", .refusedError),
            ]
            for (name, field) in refusals {
                let value = counters.value(field)
                refused &+= value
                refusedByReason[name, default: 0] &+= value
            }
            acceptPauses &+= counters.value(.acceptPauses)
            shed &+= counters.value(.shed)
            bytesIn &+= counters.value(.bytesIn)
            bytesOut &+= counters.value(.bytesOut)
            frames &+= counters.value(.frames)
            forcedCloses &+= counters.value(.forcedCloses)
            tlsHandshakes &+= counters.value(.tlsHandshakes)
            tlsHandshakeFailures &+= counters.value(.tlsHandshakeFailures)
            for reason in reasons {
                let value = counters.closed(code: reason.code)
                closed &+= value
                closedByReason[reason.description, default: 0] &+= value
            }
        }
    }
}

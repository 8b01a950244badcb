import Synchronization

/// Why a UDP datagram was not echoed (the `reason` label of
/// `trustctl_udp_datagrams_dropped_total`).
enum DatagramDropReason: Int, CaseIterable, Sendable {
    /// Source port 0, or 7/13/17/19 (echo, daytime, qotd, chargen): a reply
    /// could start a loop between two such services.
    case reflectionPort
    /// The source address's token bucket was empty (`--udp-rate`).
    case rateLimited
    /// Longer than 65507 bytes (only possible over IPv6): cut by the kernel
    /// to the slot, so not echoed.
    case truncated
    /// The echo could not be sent (send buffer still full, or an error).
    case sendFailed

    var label: String {
        switch self {
        case .reflectionPort: return "reflection_port"
        case .rateLimited: return "rate_limited"
        case .truncated: return "truncated"
        case .sendFailed: return "send_failed"
        }
    }
}

/// What the datagram worker counted: written by its thread only, with a
/// relaxed load and store (no locked read-modify-write per datagram), read
/// by the metrics endpoint and for `server_stopped`. Sendable by hand: the
/// storage is a fixed array of atomics allocated in `init`.
final class DatagramCounters: @unchecked Sendable {
    enum Field: Int, CaseIterable {
        case received
        case sent
        case bytesIn
        case bytesOut
    }

    private static let dropBase = Field.allCases.count
    private static let count = dropBase + DatagramDropReason.allCases.count
    private let values: UnsafeMutablePointer<Atomic<UInt64>>

    init() {
        values = .allocate(capacity: DatagramCounters.count)
        for index in 0..<DatagramCounters.count { (values + index).initialize(to: Atomic(0)) }
    }

    deinit {
        values.deinitialize(count: DatagramCounters.count)
        values.deallocate()
    }

    /// Owner thread only.
    @inline(__always)
    func add(_ field: Field, _ amount: UInt64 = 1) { bump(field.rawValue, amount) }

    /// Owner thread only.
    @inline(__always)
    func addDropped(_ reason: DatagramDropReason, _ amount: UInt64 = 1) {
        bump(DatagramCounters.dropBase + reason.rawValue, amount)
    }

    func value(_ field: Field) -> UInt64 { values[field.rawValue].load(ordering: .relaxed) }

    func dropped(_ reason: DatagramDropReason) -> UInt64 {
        values[DatagramCounters.dropBase + reason.rawValue].load(ordering: .relaxed)
    }

    /// Every drop reason by label, 0 included (so /metrics lists them all).
    var droppedByReason: [String: UInt64] {
        var out: [String: UInt64] = [:]
        for reason in DatagramDropReason.allCases { out[reason.label] = dropped(reason) }
        return out
    }

    var droppedTotal: UInt64 { DatagramDropReason.allCases.reduce(0) { $0 &+ dropped($1) } }

    /// Safe: every index is below `count` by construction (a field's raw
    /// value, or `dropBase` plus a reason's), and only the owner stores.
    @inline(__always)
    private func bump(_ index: Int, _ amount: UInt64) {
        let counter = values + index
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }
}

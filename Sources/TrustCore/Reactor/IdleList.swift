/// Slots ordered by last activity, oldest first, with O(1) touch, removal
/// and expiry. Every connection of a loop shares one timeout, so moving a
/// slot to the tail on activity keeps the list sorted by deadline: the loop
/// sleeps until the head's deadline and expires from the head. No timer per
/// connection, no periodic scan.
///
/// Links are slot indices (Int32) in arrays owned by the list, allocated
/// once with calloc so pages of slots never used stay untouched.
public struct IdleList: ~Copyable {
    private let previous: UnsafeMutablePointer<Int32>
    private let next: UnsafeMutablePointer<Int32>
    private let stamps: UnsafeMutablePointer<Int64>
    public let capacity: Int
    public private(set) var head: Int32 = -1
    public private(set) var tail: Int32 = -1
    public private(set) var count = 0

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(Int32.max))
        self.capacity = capacity
        previous = IdleList.zeroedArray(of: Int32.self, count: capacity)
        next = IdleList.zeroedArray(of: Int32.self, count: capacity)
        stamps = IdleList.zeroedArray(of: Int64.self, count: capacity)
    }

    deinit {
        free(previous)
        free(next)
        free(stamps)
    }

    /// calloc'd memory bound to a trivial integer type: calloc returns
    /// zeroed memory suitably aligned for any type, and integers have no
    /// invariants, so binding it is safe; untouched pages cost no RSS.
    private static func zeroedArray<T: FixedWidthInteger>(of: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        guard let raw = calloc(count, MemoryLayout<T>.stride) else {
            fatalError("IdleList: out of memory for \(count) slots")
        }
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// The time of the slot's last activity (meaningful while it is listed).
    @inline(__always)
    public func lastActivity(of slot: Int32) -> Int64 { stamps[Int(slot)] }

    /// Successor of a listed slot (-1 at the tail): lets callers walk the
    /// list while closing the slot they stand on.
    @inline(__always)
    public func successor(of slot: Int32) -> Int32 { next[Int(slot)] }

    public mutating func append(_ slot: Int32, at time: Int64) {
        let i = Int(slot)
        stamps[i] = time
        previous[i] = tail
        next[i] = -1
        if tail >= 0 { next[Int(tail)] = slot } else { head = slot }
        tail = slot
        count += 1
    }

    public mutating func remove(_ slot: Int32) {
        let i = Int(slot)
        let p = previous[i]
        let n = next[i]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { previous[Int(n)] = p } else { tail = p }
        count -= 1
    }

    /// Record activity: the slot moves to the tail (the newest).
    @inline(__always)
    public mutating func touch(_ slot: Int32, at time: Int64) {
        stamps[Int(slot)] = time
        if slot == tail { return }
        remove(slot)
        append(slot, at: time)
    }
}

#if canImport(Glibc)
    import Glibc
#endif

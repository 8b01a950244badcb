#if canImport(Glibc)
    import Glibc
#endif

/// Slots waiting for their next scheduled send (open-loop `--rate`), as a
/// binary min-heap on the due time, allocated once.
///
/// Not a FIFO although every connection shares one period: a slot is queued
/// when its echo completes, and echoes complete out of order, so a slot
/// queued later may be due earlier. The heap keeps sends on schedule at
/// O(log n) per request.
///
/// Indexed: each slot knows its place in the heap, so a slot whose
/// connection ends while it waits (the server closed it, a stray byte
/// arrived) leaves the queue at once with `remove`. A slot is in the queue
/// at most once by construction: pushing a queued slot moves it to its new
/// due time instead of adding a second entry.
struct DueQueue: ~Copyable {
    private let dues: UnsafeMutablePointer<Int64>
    private let slots: UnsafeMutablePointer<Int32>
    /// Where each slot is in the heap, -1 when it is not queued.
    private let positions: UnsafeMutablePointer<Int32>
    let capacity: Int
    private(set) var count = 0

    /// - Parameter capacity: the number of slots; slot numbers are
    ///   `0..<capacity`.
    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        dues = .allocate(capacity: self.capacity)
        slots = .allocate(capacity: self.capacity)
        positions = .allocate(capacity: self.capacity)
        positions.initialize(repeating: -1, count: self.capacity)
    }

    deinit {
        dues.deallocate()
        slots.deallocate()
        positions.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// The earliest due time (meaningless when empty).
    var nextDue: Int64 { dues[0] }

    func contains(_ slot: Int32) -> Bool { positions[Int(slot)] >= 0 }

    /// Queues `slot` for `due`, or moves it there if it is queued already.
    mutating func push(_ slot: Int32, due: Int64) {
        assert(slot >= 0 && Int(slot) < capacity, "DueQueue: slot out of range")
        let position = Int(positions[Int(slot)])
        if position >= 0 {
            let earlier = due < dues[position]
            dues[position] = due
            if earlier { siftUp(from: position) } else { siftDown(from: position) }
            return
        }
        place(slot, due: due, at: count)
        count += 1
        siftUp(from: count - 1)
    }

    /// Removes and returns the slot due first (the queue must not be empty).
    mutating func pop() -> Int32 {
        let top = slots[0]
        removeEntry(at: 0)
        return top
    }

    /// Takes `slot` out of the queue; nothing happens if it is not queued.
    mutating func remove(_ slot: Int32) {
        let position = Int(positions[Int(slot)])
        if position >= 0 { removeEntry(at: position) }
    }

    mutating func removeAll() {
        for i in 0..<count { positions[Int(slots[i])] = -1 }
        count = 0
    }

    // MARK: - The heap

    private mutating func removeEntry(at position: Int) {
        positions[Int(slots[position])] = -1
        count -= 1
        guard position < count else { return }
        // The last entry fills the hole, then finds its place either way.
        let moved = slots[count]
        place(moved, due: dues[count], at: position)
        siftUp(from: position)
        siftDown(from: Int(positions[Int(moved)]))
    }

    @inline(__always)
    private func place(_ slot: Int32, due: Int64, at position: Int) {
        dues[position] = due
        slots[position] = slot
        positions[Int(slot)] = Int32(truncatingIfNeeded: position)
    }

    private func siftUp(from start: Int) {
        var i = start
        let due = dues[i]
        let slot = slots[i]
        while i > 0 {
            let parent = (i - 1) / 2
            if dues[parent] <= due { break }
            place(slots[parent], due: dues[parent], at: i)
            i = parent
        }
        place(slot, due: due, at: i)
    }

    private func siftDown(from start: Int) {
        var i = start
        let due = dues[i]
        let slot = slots[i]
        while true {
            var child = 2 * i + 1
            if child >= count { break }
            if child + 1 < count && dues[child + 1] < dues[child] { child += 1 }
            if due <= dues[child] { break }
            place(slots[child], due: dues[child], at: i)
            i = child
        }
        place(slot, due: due, at: i)
    }
}

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
struct DueQueue: ~Copyable {
    private let dues: UnsafeMutablePointer<Int64>
    private let slots: UnsafeMutablePointer<Int32>
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        dues = .allocate(capacity: self.capacity)
        slots = .allocate(capacity: self.capacity)
    }

    deinit {
        dues.deallocate()
        slots.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// The earliest due time (meaningless when empty).
    var nextDue: Int64 { dues[0] }

    mutating func push(_ slot: Int32, due: Int64) {
        precondition(count < capacity, "DueQueue: a slot is queued at most once")
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) / 2
            if dues[parent] <= due { break }
            dues[i] = dues[parent]
            slots[i] = slots[parent]
            i = parent
        }
        dues[i] = due
        slots[i] = slot
    }

    /// Removes and returns the slot due first.
    mutating func pop() -> Int32 {
        let top = slots[0]
        count -= 1
        if count > 0 {
            let due = dues[count]
            let slot = slots[count]
            var i = 0
            while true {
                var child = 2 * i + 1
                if child >= count { break }
                if child + 1 < count && dues[child + 1] < dues[child] { child += 1 }
                if due <= dues[child] { break }
                dues[i] = dues[child]
                slots[i] = slots[child]
                i = child
            }
            dues[i] = due
            slots[i] = slot
        }
        return top
    }

    mutating func removeAll() { count = 0 }
}

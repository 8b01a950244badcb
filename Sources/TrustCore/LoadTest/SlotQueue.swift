/// A FIFO ring of slot indices, allocated once: the slots waiting to start
/// their next session (paced by `--connect-rate`). A slot is in it at most
/// once, so `capacity` slots always fit.
struct SlotQueue: ~Copyable {
    private let ring: UnsafeMutablePointer<Int32>
    let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        ring = .allocate(capacity: self.capacity)
    }

    deinit { ring.deallocate() }

    var isEmpty: Bool { count == 0 }

    mutating func push(_ slot: Int32) {
        precondition(count < capacity, "SlotQueue: a slot is queued at most once")
        ring[(head + count) % capacity] = slot
        count += 1
    }

    mutating func pop() -> Int32 {
        let slot = ring[head]
        head = (head + 1) % capacity
        count -= 1
        return slot
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }
}

import XCTest

@testable import TrustCore

final class LoadTestQueueTests: XCTestCase {
    func testDueQueuePopsInDueOrderWhateverThePushOrder() {
        var generator = SystemRandomNumberGenerator()
        var queue = DueQueue(capacity: 500)
        var model: [(Int64, Int32)] = []
        // Interleaved pushes and pops, as slots complete out of order.
        for round in 0..<2000 {
            if model.count < 500 && (model.isEmpty || Bool.random(using: &generator)) {
                let due = Int64.random(in: 0...1000, using: &generator)
                let slot = Int32(round % 500)
                if model.contains(where: { $0.1 == slot }) { continue }
                queue.push(slot, due: due)
                model.append((due, slot))
            } else {
                let smallest = model.map(\.0).min()!
                XCTAssertEqual(queue.nextDue, smallest)
                let slot = queue.pop()
                let index = model.firstIndex { $0.1 == slot }!
                XCTAssertEqual(model[index].0, smallest)
                model.remove(at: index)
            }
            XCTAssertEqual(queue.count, model.count)
        }
    }

    func testDueQueueRemovesAndMovesQueuedSlotsWithoutDuplicates() {
        var generator = SplitMix64(seed: 9)
        let capacity = 64
        var queue = DueQueue(capacity: capacity)
        var model: [Int32: Int64] = [:]
        for _ in 0..<20_000 {
            let slot = Int32(Int.random(in: 0..<capacity, using: &generator))
            switch Int.random(in: 0..<4, using: &generator) {
            case 0, 1:
                // Pushing a queued slot moves it: still one entry per slot.
                let due = Int64.random(in: 0...1000, using: &generator)
                queue.push(slot, due: due)
                model[slot] = due
            case 2:
                // A slot whose connection ended while it waited.
                queue.remove(slot)
                model[slot] = nil
            default:
                guard let smallest = model.values.min() else {
                    XCTAssertTrue(queue.isEmpty)
                    continue
                }
                XCTAssertEqual(queue.nextDue, smallest)
                let popped = queue.pop()
                XCTAssertEqual(model[popped], smallest)
                model[popped] = nil
            }
            XCTAssertEqual(queue.count, model.count)
            XCTAssertEqual(queue.contains(slot), model[slot] != nil)
        }
        queue.removeAll()
        XCTAssertTrue(queue.isEmpty)
        for slot in 0..<Int32(capacity) { XCTAssertFalse(queue.contains(slot)) }
        // Every slot fits again after removeAll.
        for slot in 0..<Int32(capacity) { queue.push(slot, due: Int64(capacity) - Int64(slot)) }
        XCTAssertEqual(queue.pop(), Int32(capacity - 1))
    }

    func testSlotQueueIsFIFOAcrossWrapAround() {
        var queue = SlotQueue(capacity: 3)
        var popped: [Int32] = []
        for slot in Int32(0)..<10 {
            queue.push(slot)
            if queue.count == 3 { popped.append(queue.pop()) }
        }
        while !queue.isEmpty { popped.append(queue.pop()) }
        XCTAssertEqual(popped, Array(0..<10))
    }

    func testSharesSplitSlotsAndClientsEvenly() {
        let options = LoadTestOptions(host: "h", port: 1, clients: 11, messages: 1, concurrency: 5, threads: 2)
        let shares = LoadTest.shares(of: options)
        XCTAssertEqual(shares.map(\.slots), [3, 2])
        XCTAssertEqual(shares.map(\.clients), [6, 5])
        XCTAssertEqual(shares.map(\.firstClient), [0, 6])
        XCTAssertEqual(shares.map(\.firstSlot), [0, 3])
        let tiny = LoadTestOptions(host: "h", port: 1, clients: 1, messages: 1, concurrency: 1, threads: 4)
        XCTAssertEqual(LoadTest.shares(of: tiny).count, 1)
    }
}

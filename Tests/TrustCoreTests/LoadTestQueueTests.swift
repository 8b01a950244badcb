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

import XCTest

@testable import TrustCore

final class IdleListTests: XCTestCase {
    /// Walks the list from the head and checks the links agree with `count`.
    private func order(_ list: borrowing IdleList) -> [Int32] {
        var result: [Int32] = []
        var slot = list.head
        while slot >= 0 && result.count <= list.capacity {
            result.append(slot)
            slot = list.successor(of: slot)
        }
        return result
    }

    func testAppendKeepsArrivalOrder() {
        var list = IdleList(capacity: 16)
        list.append(3, at: 10)
        list.append(7, at: 11)
        list.append(5, at: 12)
        XCTAssertEqual(order(list), [3, 7, 5])
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(list.head, 3)
        XCTAssertEqual(list.tail, 5)
        XCTAssertEqual(list.lastActivity(of: 7), 11)
    }

    func testTouchMovesToTailAndUpdatesStamp() {
        var list = IdleList(capacity: 16)
        for slot: Int32 in [1, 2, 3] { list.append(slot, at: Int64(slot)) }
        list.touch(1, at: 50)
        XCTAssertEqual(order(list), [2, 3, 1])
        XCTAssertEqual(list.lastActivity(of: 1), 50)
        list.touch(1, at: 60)  // already the tail
        XCTAssertEqual(order(list), [2, 3, 1])
        XCTAssertEqual(list.lastActivity(of: 1), 60)
        list.touch(3, at: 70)
        XCTAssertEqual(order(list), [2, 1, 3])
    }

    func testRemoveHeadMiddleTailAndLast() {
        var list = IdleList(capacity: 16)
        for slot: Int32 in [4, 5, 6, 8] { list.append(slot, at: 0) }
        list.remove(5)
        XCTAssertEqual(order(list), [4, 6, 8])
        list.remove(4)
        XCTAssertEqual(order(list), [6, 8])
        list.remove(8)
        XCTAssertEqual(order(list), [6])
        list.remove(6)
        XCTAssertEqual(order(list), [])
        XCTAssertEqual(list.head, -1)
        XCTAssertEqual(list.tail, -1)
        XCTAssertEqual(list.count, 0)
        list.append(2, at: 1)
        XCTAssertEqual(order(list), [2])
    }

    /// Random operations against a simple array model: the list stays sorted
    /// by last activity when stamps only grow, which is what makes expiry
    /// from the head correct.
    func testRandomOperationsMatchModel() {
        var rng = SplitMix64(seed: 0x1d1e)
        var list = IdleList(capacity: 64)
        var model: [Int32] = []
        var time: Int64 = 0
        for _ in 0..<5_000 {
            time += Int64(rng.next() % 3)
            let slot = Int32(rng.next() % 64)
            let listed = model.contains(slot)
            switch rng.next() % 3 {
            case 0 where !listed:
                list.append(slot, at: time)
                model.append(slot)
            case 1 where listed:
                list.touch(slot, at: time)
                model.removeAll { $0 == slot }
                model.append(slot)
            case 2 where listed:
                list.remove(slot)
                model.removeAll { $0 == slot }
            default:
                continue
            }
            XCTAssertEqual(order(list), model)
            let stamps = model.map { list.lastActivity(of: $0) }
            XCTAssertEqual(stamps, stamps.sorted(), "list must stay ordered by activity")
        }
    }
}

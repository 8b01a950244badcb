import XCTest

@testable import TrustCore

/// The load tester's time arithmetic must saturate, never trap, for any
/// number a flag may carry (validation bounds them, but the engine must not
/// depend on where those bounds lie).
final class LoadScheduleTests: XCTestCase {
    private func options(
        rate: Double? = nil, connectRate: Double? = nil, duration: Double? = nil, timeout: Double = 10,
        concurrency: Int = 1
    ) -> LoadTestOptions {
        LoadTestOptions(
            host: "h", port: 1, clients: 1000, messages: 1, concurrency: concurrency, duration: duration, rate: rate,
            connectRate: connectRate, timeout: timeout)
    }

    func testSecondsSaturate() {
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: 1.5), 1_500_000_000)
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: 1e-300), 0)
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: -3), 0)
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: .nan), 0)
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: 9.3e9), LoadSchedule.never)
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: 1e300), LoadSchedule.never)
        XCTAssertEqual(LoadSchedule.nanoseconds(seconds: .infinity), LoadSchedule.never)
        XCTAssertEqual(LoadSchedule.adding(.max - 5, 10), LoadSchedule.never)
        XCTAssertEqual(LoadSchedule.adding(5, 10), 15)
    }

    func testATinyRateSendsTheFirstRequestNowAndTheNextNever() {
        let schedule = LoadSchedule(options: options(rate: 1e-300, concurrency: 2), slots: 2, firstSlot: 0)
        XCTAssertTrue(schedule.isOpenLoop)
        // 0 · ∞ is NaN: the first request of slot 0 must still be due at the start.
        XCTAssertEqual(schedule.due(slot: 0, request: 0, start: 1000), 1000)
        XCTAssertEqual(schedule.due(slot: 0, request: 1, start: 1000), LoadSchedule.never)
        XCTAssertEqual(schedule.due(slot: 1, request: 0, start: 1000), LoadSchedule.never)
    }

    func testOrdinaryRatesFollowTheFormula() {
        // 4 slots at 400/s: each slot every 10 ms, neighbours 2.5 ms apart.
        let schedule = LoadSchedule(options: options(rate: 400, concurrency: 4), slots: 2, firstSlot: 2)
        XCTAssertEqual(schedule.due(slot: 0, request: 0, start: 0), 5_000_000)
        XCTAssertEqual(schedule.due(slot: 1, request: 3, start: 0), 37_500_000)
    }

    func testHugeRatesAndAbsurdValuesStayInRange() {
        let huge = LoadSchedule(options: options(rate: 1e300, concurrency: 3), slots: 3, firstSlot: 0)
        XCTAssertEqual(huge.due(slot: 2, request: .max, start: 7), 7)
        XCTAssertFalse(LoadSchedule(options: options(rate: .nan), slots: 1, firstSlot: 0).isOpenLoop)
        let slow = LoadSchedule(
            options: options(connectRate: 1e-10, duration: 1e300, timeout: 1e300), slots: 1, firstSlot: 0)
        XCTAssertEqual(slow.connectIntervalNs, LoadSchedule.never)
        XCTAssertEqual(slow.runNs, LoadSchedule.never)
        XCTAssertEqual(slow.timeoutNs, LoadSchedule.never)
        let fast = LoadSchedule(options: options(connectRate: 1e300), slots: 1, firstSlot: 0)
        XCTAssertEqual(fast.connectIntervalNs, 0)
        XCTAssertEqual(LoadSchedule(options: options(), slots: 1, firstSlot: 0).runNs, LoadSchedule.never)
    }
}

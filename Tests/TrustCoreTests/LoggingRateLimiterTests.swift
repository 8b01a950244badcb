import XCTest

@testable import TrustCore

final class LoggingRateLimiterTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testOneEventPerIntervalAndSuppressedCount() {
        var limiter = LogRateLimiter<String>()
        XCTAssertEqual(limiter.allow(key: "accept_paused", now: 10).allowed, true)
        for index in 1...5 {
            let verdict = limiter.allow(key: "accept_paused", now: 10 + UInt64(index) * 1000)
            XCTAssertFalse(verdict.allowed)
            XCTAssertEqual(verdict.suppressedSinceLast, index)
        }
        let next = limiter.allow(key: "accept_paused", now: 10 + second)
        XCTAssertTrue(next.allowed)
        XCTAssertEqual(next.suppressedSinceLast, 5)
        let after = limiter.allow(key: "accept_paused", now: 10 + second + 1)
        XCTAssertFalse(after.allowed)
        XCTAssertEqual(after.suppressedSinceLast, 1)
        let quiet = limiter.allow(key: "accept_paused", now: 10 + 5 * second)
        XCTAssertTrue(quiet.allowed)
        XCTAssertEqual(quiet.suppressedSinceLast, 1)
        let fresh = limiter.allow(key: "accept_paused", now: 10 + 7 * second)
        XCTAssertEqual(fresh.suppressedSinceLast, 0, "the count resets once reported")
    }

    func testKeysAreIndependent() {
        var limiter = LogRateLimiter<String>()
        XCTAssertTrue(limiter.allow(key: "accept_paused", now: 0).allowed)
        XCTAssertTrue(limiter.allow(key: "connection_refused", now: 1).allowed)
        XCTAssertFalse(limiter.allow(key: "accept_paused", now: 2).allowed)
        XCTAssertFalse(limiter.allow(key: "connection_refused", now: 3).allowed)
    }

    func testSeveralEventsPerInterval() {
        var limiter = LogRateLimiter<Int>(eventsPerInterval: 3, intervalNanoseconds: 100)
        let verdicts = (0..<5).map { limiter.allow(key: 7, now: UInt64($0)).allowed }
        XCTAssertEqual(verdicts, [true, true, true, false, false])
        let next = limiter.allow(key: 7, now: 100)
        XCTAssertEqual(next.allowed, true)
        XCTAssertEqual(next.suppressedSinceLast, 2)
    }

    func testClockGoingBackwardsStartsANewWindow() {
        var limiter = LogRateLimiter<String>()
        XCTAssertTrue(limiter.allow(key: "k", now: 5 * second).allowed)
        XCTAssertFalse(limiter.allow(key: "k", now: 5 * second + 1).allowed)
        let earlier = limiter.allow(key: "k", now: second)
        XCTAssertTrue(earlier.allowed)
        XCTAssertEqual(earlier.suppressedSinceLast, 1)
    }

    func testTrackedKeysAreBounded() {
        var limiter = LogRateLimiter<String>(maxKeys: 2)
        XCTAssertTrue(limiter.allow(key: "a", now: 0).allowed)
        XCTAssertTrue(limiter.allow(key: "b", now: 0).allowed)
        XCTAssertFalse(limiter.allow(key: "b", now: 1).allowed)
        let refused = limiter.allow(key: "c", now: 1)
        XCTAssertFalse(refused.allowed, "no room while a and b are live")
        XCTAssertEqual(limiter.untrackedSuppressed, 1)
        XCTAssertEqual(limiter.trackedKeys, 2)

        // Once their windows expire, a and b make room (b's suppressed event
        // is counted as untracked).
        XCTAssertTrue(limiter.allow(key: "c", now: second).allowed)
        XCTAssertEqual(limiter.untrackedSuppressed, 2)
        XCTAssertEqual(limiter.trackedKeys, 1)
    }

    func testMonotonicClockMovesForward() {
        let first = TrustLogging.monotonicNanoseconds()
        let second = TrustLogging.monotonicNanoseconds()
        XCTAssertGreaterThan(first, 0)
        XCTAssertGreaterThanOrEqual(second, first)
    }
}

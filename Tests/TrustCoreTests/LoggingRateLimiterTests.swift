import XCTest

@testable import TrustCore

final class LoggingRateLimiterTests: XCTestCase {
    func testOneEventPerIntervalAndSuppressedCount() {
        var limiter = LogRateLimiter(intervalMs: 1000)
        XCTAssertTrue(limiter.allow(now: 10) == (true, 0))
        for index in 1...5 {
            let verdict = limiter.allow(now: 10 + Int64(index) * 100)
            XCTAssertFalse(verdict.allowed)
            XCTAssertEqual(verdict.suppressed, index, "the running count, this event included")
        }
        XCTAssertTrue(limiter.allow(now: 1009) == (false, 6), "the window is [10, 1010)")
        XCTAssertTrue(limiter.allow(now: 1010) == (true, 6), "the next allowed event reports what was held back")
        XCTAssertTrue(limiter.allow(now: 1011) == (false, 1))
        XCTAssertTrue(limiter.allow(now: 5000) == (true, 1))
        XCTAssertTrue(limiter.allow(now: 7000) == (true, 0), "the count starts again once reported")
    }

    func testTheWindowStartsAtTheFirstAllowedEventNotAtZero() {
        var limiter = LogRateLimiter(intervalMs: 60_000)
        // A monotonic clock can read anything at start, even a negative number.
        XCTAssertTrue(limiter.allow(now: -5).allowed)
        XCTAssertFalse(limiter.allow(now: 59_994).allowed)
        XCTAssertTrue(limiter.allow(now: 59_995).allowed)
    }

    func testSeveralEventsPerInterval() {
        var limiter = LogRateLimiter(intervalMs: 100, eventsPerInterval: 3)
        let verdicts = (0..<5).map { limiter.allow(now: Int64($0)).allowed }
        XCTAssertEqual(verdicts, [true, true, true, false, false])
        XCTAssertTrue(limiter.allow(now: 100) == (true, 2))
    }

    func testClockGoingBackwardsStartsANewWindow() {
        var limiter = LogRateLimiter(intervalMs: 1000)
        XCTAssertTrue(limiter.allow(now: 5000).allowed)
        XCTAssertFalse(limiter.allow(now: 5001).allowed)
        XCTAssertTrue(limiter.allow(now: 1000) == (true, 1))
    }

    func testExtremeClockReadingsNeitherTrapNorStick() {
        var limiter = LogRateLimiter(intervalMs: .max)
        XCTAssertTrue(limiter.allow(now: .min).allowed)
        // .max - .min overflows: treated as a window long over.
        XCTAssertTrue(limiter.allow(now: .max).allowed)
        XCTAssertFalse(limiter.allow(now: .max).allowed)
    }

    func testNonsenseParametersAreClampedToOne() {
        var limiter = LogRateLimiter(intervalMs: -3, eventsPerInterval: 0)
        XCTAssertEqual(limiter.intervalMs, 1)
        XCTAssertEqual(limiter.eventsPerInterval, 1)
        XCTAssertTrue(limiter.allow(now: 0).allowed)
        XCTAssertFalse(limiter.allow(now: 0).allowed)
        XCTAssertTrue(limiter.allow(now: 1).allowed)
    }

    func testALimiterIsPlainIntegers() {
        // BitwiseCopyable: copying one into a table of workers costs no
        // reference counting, and it holds nothing on the heap.
        func requireBitwiseCopyable<T: BitwiseCopyable>(_: T.Type) {}
        requireBitwiseCopyable(LogRateLimiter.self)
        XCTAssertTrue(_isPOD(LogRateLimiter.self))
    }
}

import XCTest

@testable import TrustCore

final class SourceRateLimiterTests: XCTestCase {
    private func key(_ n: UInt64) -> SourceRateLimiter.Key { .init(high: 0, low: 0xFFFF_0000_0000 | n) }
    private let second: UInt64 = 1_000_000_000

    func testBurstIsOneSecondsWorthThenTheRate() {
        var limiter = SourceRateLimiter(rate: 10, seed: 1)
        let t0 = 5 * second
        let admitted = (0..<50).filter { _ in limiter.admit(key(1), nowNs: t0) }.count
        XCTAssertEqual(admitted, 10)
        // Half a second later: five more tokens.
        let later = (0..<50).filter { _ in limiter.admit(key(1), nowNs: t0 + second / 2) }.count
        XCTAssertEqual(later, 5)
    }

    func testSourcesHaveTheirOwnBuckets() {
        var limiter = SourceRateLimiter(rate: 3, seed: 2)
        for _ in 0..<10 { _ = limiter.admit(key(1), nowNs: second) }
        XCTAssertFalse(limiter.admit(key(1), nowNs: second))
        XCTAssertTrue(limiter.admit(key(2), nowNs: second))
    }

    func testZeroRateAdmitsEverything() {
        var limiter = SourceRateLimiter(rate: 0)
        XCTAssertFalse(limiter.enabled)
        XCTAssertTrue((0..<10_000).allSatisfy { _ in limiter.admit(key(1), nowNs: second) })
    }

    /// A flood from far more sources than the table holds: busy sources
    /// keep their (empty) buckets, and all the sources that found no entry
    /// share one overflow bucket, so what the flood gets answered is bounded
    /// by the table's sources plus one rate's worth.
    func testManySourcesCannotGrowTheTableOrResetBusyBuckets() {
        var limiter = SourceRateLimiter(rate: 2, seed: 3)
        let now = 10 * second
        let sources = UInt64(SourceRateLimiter.capacity * 4)
        var admitted = 0
        for _ in 0..<3 {
            for source in 0..<sources where limiter.admit(key(source), nowNs: now) { admitted += 1 }
        }
        // Each source in the table gets at most 2 (its burst), the overflow 2.
        XCTAssertLessThanOrEqual(admitted, SourceRateLimiter.capacity * 2 + 2)
        XCTAssertGreaterThan(admitted, 0)
    }

    /// An entry idle long enough to be full again is given to a new source.
    func testIdleEntriesAreReused() {
        var limiter = SourceRateLimiter(rate: 1, seed: 4)
        let sources = UInt64(SourceRateLimiter.capacity * 2)
        for source in 0..<sources { _ = limiter.admit(key(source), nowNs: second) }
        // Two seconds later every bucket is full: new sources find entries.
        let fresh = (sources..<(sources + 100)).filter { limiter.admit(key($0), nowNs: 3 * second) }.count
        XCTAssertEqual(fresh, 100)
    }
}

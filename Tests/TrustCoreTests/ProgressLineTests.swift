import XCTest

@testable import TrustCore

final class ProgressLineTests: XCTestCase {
    private let countMode = ProgressLine(
        elapsedSeconds: 2.25, ok: 154_200, failed: 3, rate: 48_213.4, durationSeconds: nil, planned: 1_000_000)
    private let durationMode = ProgressLine(
        elapsedSeconds: 3.2, ok: 1_234_567, failed: 0, rate: 385_000, durationSeconds: 10, planned: nil)

    func testNeverReachesTheLastColumnAtAnyWidth() {
        for line in [countMode, durationMode] {
            for width in 0...250 {
                let text = line.text(width: width)
                XCTAssertLessThanOrEqual(text.count, max(0, width - 1), "width \(width): \(text)")
                XCTAssertFalse(text.contains("\n") || text.contains("\r"), text)
            }
        }
    }

    func testFortyColumnsStillShowEveryFigure() {
        let count = countMode.text(width: 40)
        for part in ["2.2s", "48.2k/s", "ok 154k", "fail 3", "846k left"] {
            XCTAssertTrue(count.contains(part), "\(part) missing: \(count)")
        }
        let duration = durationMode.text(width: 40)
        for part in ["3.2s", "385k/s", "ok 1.23M", "fail 0", "6.8s left"] {
            XCTAssertTrue(duration.contains(part), "\(part) missing: \(duration)")
        }
    }

    func testWideTerminalsGetTheBarAndFullNumbers() {
        let text = countMode.text(width: 120)
        XCTAssertTrue(text.hasPrefix("["), text)
        for part in ["2.2 s", "48213 rt/s", "ok 154200", "failed 3", "845797 of 1000000 left"] {
            XCTAssertTrue(text.contains(part), "\(part) missing: \(text)")
        }
        let bar = durationMode.text(width: 120)
        XCTAssertTrue(bar.hasPrefix("[#########---------------------] "), bar)
        XCTAssertTrue(bar.contains("6.8 s left"), bar)
    }

    func testNarrowTerminalsDropTheLeastImportantPartsFirst() {
        let text = countMode.text(width: 30)
        XCTAssertTrue(text.contains("ok 154k") && text.contains("fail 3") && text.contains("left"), text)
        XCTAssertFalse(text.contains("/s"), text)
    }

    func testOddNumbersAreShownNotTrapped() {
        let odd = ProgressLine(
            elapsedSeconds: .infinity, ok: .max, failed: 0, rate: .nan, durationSeconds: 1e300, planned: nil)
        XCTAssertFalse(odd.text(width: 80).isEmpty)
        XCTAssertEqual(ProgressLine.seconds(3725, compact: false), "1:02:05")
        XCTAssertEqual(ProgressLine.seconds(125, compact: true), "2:05")
        XCTAssertEqual(ProgressLine.count(9_999, compact: true), "9999")
        XCTAssertEqual(ProgressLine.count(4_600_000_000, compact: true), "4.60G")
    }
}

import Foundation
import TrustCore
import XCTest

/// The pieces of echo-load-test's measuring options that need no socket:
/// the HdrHistogram codec, `--source-ip` parsing, the report's warnings.
final class LoadTestMeasuringUnitTests: XCTestCase {
    private func recorder(_ values: [UInt64]) -> LatencyRecorder {
        var r = LatencyRecorder()
        for v in values { r.record(microseconds: v) }
        return r
    }

    private func percentiles(_ r: LatencyRecorder) -> [UInt64] {
        [0, 10, 50, 90, 99, 99.9, 99.99, 100].map { r.value(atPercentile: $0) } + [r.count]
    }

    func testEncodeDecodeIsLossless() throws {
        var generator = SystemRandomNumberGenerator()
        var values: [UInt64] = (0..<5000).map { _ in UInt64.random(in: 1...3_000_000, using: &generator) }
        values += [1, 2, 2047, 2048, 1_000_000_000, 3_600_000_000]
        let original = recorder(values)
        let decoded = try HdrHistogramCodec.decode(HdrHistogramCodec.encode(original))
        XCTAssertEqual(percentiles(decoded), percentiles(original))
        XCTAssertEqual(decoded.summary, original.summary)
        // Encoding the decoded histogram gives the same bytes: nothing moved.
        XCTAssertEqual(HdrHistogramCodec.encode(decoded), HdrHistogramCodec.encode(original))
    }

    func testMergingDecodedHistogramsEqualsRecordingTheUnion() throws {
        let a: [UInt64] = (1...1000).map { $0 * 7 }
        let b: [UInt64] = (1...300).map { $0 * 1013 }
        var merged = try HdrHistogramCodec.decode(HdrHistogramCodec.encode(recorder(a)))
        merged.add(try HdrHistogramCodec.decode(HdrHistogramCodec.encode(recorder(b))))
        XCTAssertEqual(percentiles(merged), percentiles(recorder(a + b)))
    }

    func testEmptyHistogramRoundTrips() throws {
        let decoded = try HdrHistogramCodec.decode(HdrHistogramCodec.encode(LatencyRecorder()))
        XCTAssertEqual(decoded.count, 0)
    }

    func testTheEncodingStartsWithHdrHistogramsV2CompressedCookie() throws {
        let bytes = try XCTUnwrap(Data(base64Encoded: HdrHistogramCodec.encode(recorder([5]))))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x1c, 0x84, 0x93, 0x14])
        // The cookie's base64 is the "HISTF" every HdrHistogram log line starts with.
        XCTAssertEqual(HdrHistogramCodec.encode(recorder([5])).prefix(6), "HISTFA")
    }

    func testBadInputIsADataError() {
        for text in [
            "", "not base64!", Data([1, 2, 3, 4, 5, 6, 7, 8]).base64EncodedString(),
            Data([0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 2, 0x78, 0x9c]).base64EncodedString(),
        ] {
            XCTAssertThrowsError(try HdrHistogramCodec.decode(text)) { error in
                XCTAssertEqual((error as? TrustError)?.kind, .dataMismatch, text)
            }
        }
    }

    func testSourceAddressLists() {
        XCTAssertEqual(LoadSourceAddresses(parsing: "127.0.0.2,127.0.0.3")?.addresses, ["127.0.0.2", "127.0.0.3"])
        XCTAssertEqual(LoadSourceAddresses(parsing: "::1")?.addresses, ["::1"])
        XCTAssertEqual(LoadSourceAddresses(parsing: "127.0.0.4/30")?.addresses, ["127.0.0.5", "127.0.0.6"])
        XCTAssertEqual(LoadSourceAddresses(parsing: "10.1.2.3/32")?.addresses, ["10.1.2.3"])
        XCTAssertEqual(LoadSourceAddresses(parsing: "10.1.2.2/31")?.addresses, ["10.1.2.2", "10.1.2.3"])
        XCTAssertEqual(LoadSourceAddresses(parsing: "10.0.0.0/20")?.addresses.count, 4094)
        for bad in [
            "", ",", "127.0.0.1,", "localhost", "300.0.0.1", "10.0.0.0/19", "10.0.0.0/33", "::1/120", "1.2.3.4/x",
        ] {
            XCTAssertNil(LoadSourceAddresses(parsing: bad), bad)
        }
    }

    private func report(rate: Double?, ok: Int, wall: Double, cpu: Double, loops: Int) -> LoadTestReport {
        var options = LoadTestOptions(host: "127.0.0.1", port: 9, clients: 1, messages: 1, rate: rate)
        options.duration = wall
        var tally = LoadTestTally()
        tally.ok = ok
        var report = LoadTestReport(options: options, tally: tally, wallSeconds: wall)
        report.run.userSeconds = cpu
        report.run.loops = loops
        return report
    }

    func testSaturationWarningAboveNinetyPercentOfTheThreadsCores() {
        XCTAssertFalse(report(rate: nil, ok: 10, wall: 2, cpu: 1.7, loops: 1).generatorSaturated)
        let hot = report(rate: nil, ok: 10, wall: 2, cpu: 1.9, loops: 1)
        XCTAssertTrue(hot.generatorSaturated)
        XCTAssertTrue(
            hot.summary.contains("generator saturated: it used 95 % of a core across 1 thread(s)"), hot.summary)
        XCTAssertFalse(report(rate: nil, ok: 10, wall: 2, cpu: 1.9, loops: 2).generatorSaturated)
        XCTAssertTrue(report(rate: nil, ok: 10, wall: 2, cpu: 3.7, loops: 2).generatorSaturated)
    }

    func testBehindScheduleOnlyBeyondFivePercent() {
        XCTAssertNil(report(rate: 1000, ok: 1900, wall: 2, cpu: 0, loops: 1).behindScheduleLine)
        let behind = report(rate: 1000, ok: 1880, wall: 2, cpu: 0, loops: 1)
        XCTAssertEqual(
            behind.behindScheduleLine,
            "generator fell behind the schedule: 940.0 round trips/s achieved of 1000.0 scheduled (6.0 % behind); latency counts the delay from the schedule"
        )
        XCTAssertTrue(behind.summary.contains(behind.behindScheduleLine ?? "-"))
        XCTAssertNil(report(rate: nil, ok: 1, wall: 2, cpu: 0, loops: 1).behindScheduleLine)
    }
}

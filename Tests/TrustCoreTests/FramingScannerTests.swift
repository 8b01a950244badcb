import XCTest

@testable import TrustCore

final class FramingScannerTests: XCTestCase {
    private let maxFrame: UInt32 = 4096

    // MARK: properties over random streams and splits

    func testAnySplitReleasesExactlyTheStreamAndCountsEveryFrame() {
        for caseIndex in 0..<250 {
            let seed = framingBaseSeed &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let payloads = FramingFixtures.payloads(
                count: Int.random(in: 0...6, using: &rng), using: &rng)
            let stream = FrameEncoder.encode(payloads: payloads)
            let starts = FramingFixtures.frameStarts(payloads)
            for split in ChunkSplit.allCases {
                let sizes = split.chunkSizes(streamCount: stream.count, headerStarts: starts, using: &rng)
                let outcome = scanStream(stream, maxFrame: maxFrame, chunkSizes: sizes)
                let context = "seed \(seed), split \(split)"
                assertSameBytes(outcome.released, stream, context)
                XCTAssertEqual(outcome.framesCompleted, UInt64(payloads.count), context)
                XCTAssertEqual(outcome.framesReportedInResults, payloads.count, context)
                XCTAssertEqual(outcome.frameLengths, payloads.map { UInt32($0.count) }, context)
                XCTAssertNil(outcome.oversizeLength, context)
                XCTAssertFalse(outcome.isMidFrame, context)
                XCTAssertEqual(outcome.heldHeaderCount, 0, context)
            }
        }
    }

    func testOversizeFrameReleasesExactlyTheFramesBeforeIt() {
        for caseIndex in 0..<200 {
            let seed = framingBaseSeed &+ 10_000 &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let limit = UInt32.random(in: 0...3000, using: &rng)
            let before = FramingFixtures.payloads(count: Int.random(in: 0...5, using: &rng), using: &rng)
                .map { Array($0.prefix(Int(limit))) }
            let declared =
                Bool.random(using: &rng)
                ? limit + 1 : UInt32.random(in: (limit + 1)...UInt32.max, using: &rng)
            // After the bad header: some of its would-be payload, then more valid frames.
            let after =
                FramingFixtures.payload(size: Int.random(in: 0...50, using: &rng), using: &rng)
                + FrameEncoder.encode(payloads: [[1, 2, 3], []])
            let valid = FrameEncoder.encode(payloads: before)
            let stream = valid + FramingFixtures.header(declared) + after
            let starts = FramingFixtures.frameStarts(before) + [valid.count]
            for split in ChunkSplit.allCases {
                let sizes = split.chunkSizes(streamCount: stream.count, headerStarts: starts, using: &rng)
                let outcome = scanStream(stream, maxFrame: limit, chunkSizes: sizes)
                let context = "seed \(seed), split \(split), max \(limit), declared \(declared)"
                assertSameBytes(outcome.released, valid, context)
                XCTAssertEqual(outcome.oversizeLength, declared, context)
                XCTAssertEqual(outcome.framesCompleted, UInt64(before.count), context)
                XCTAssertEqual(outcome.framesReportedInResults, before.count, context)
                XCTAssertFalse(outcome.isMidFrame, context)
            }
        }
    }

    func testTruncatedStreamReleasesPayloadAsItComesAndHoldsOnlyHeaderBytes() {
        for caseIndex in 0..<200 {
            let seed = framingBaseSeed &+ 20_000 &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let payloads = FramingFixtures.payloads(
                count: Int.random(in: 1...5, using: &rng), using: &rng)
            let full = FrameEncoder.encode(payloads: payloads)
            let cut = Int.random(in: 0...full.count, using: &rng)
            let stream = Array(full[..<cut])
            let starts = FramingFixtures.frameStarts(payloads)

            // Expected state at the cut, worked out from the frame layout.
            var expectedFrames = 0
            var expectedHeld = 0
            var midFrame = false
            for (index, start) in starts.enumerated() where start < cut {
                let end = start + 4 + payloads[index].count
                if end <= cut {
                    expectedFrames += 1
                } else {
                    midFrame = true
                    expectedHeld = cut - start < 4 ? cut - start : 0
                }
            }
            for split in ChunkSplit.allCases {
                let sizes = split.chunkSizes(streamCount: stream.count, headerStarts: starts, using: &rng)
                let outcome = scanStream(stream, maxFrame: maxFrame, chunkSizes: sizes)
                let context = "seed \(seed), split \(split), cut \(cut) of \(full.count)"
                assertSameBytes(outcome.released, Array(stream[..<(cut - expectedHeld)]), context)
                XCTAssertEqual(outcome.framesCompleted, UInt64(expectedFrames), context)
                XCTAssertEqual(outcome.framesReportedInResults, expectedFrames, context)
                XCTAssertEqual(outcome.isMidFrame, midFrame, context)
                XCTAssertEqual(outcome.heldHeaderCount, expectedHeld, context)
            }
        }
    }

    func testScannerOverAnySplitAgreesWithDecoderOverWholeStream() {
        for caseIndex in 0..<200 {
            let seed = framingBaseSeed &+ 30_000 &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let limit = UInt32.random(in: 0...3000, using: &rng)
            // Arbitrary streams: valid frames, random bytes and cuts, possibly oversize headers.
            var stream = FrameEncoder.encode(
                payloads: FramingFixtures.payloads(count: Int.random(in: 0...4, using: &rng), using: &rng))
            if Bool.random(using: &rng) {
                stream += FramingFixtures.payload(size: Int.random(in: 0...40, using: &rng), using: &rng)
            }
            stream = Array(stream.prefix(Int.random(in: 0...stream.count, using: &rng)))
            let (payloads, error) = decodeStream(stream, maxFrame: limit)
            let sizes = ChunkSplit.random.chunkSizes(
                streamCount: stream.count, headerStarts: [], using: &rng)
            let outcome = scanStream(stream, maxFrame: limit, chunkSizes: sizes)
            let context = "seed \(seed), max \(limit)"
            XCTAssertEqual(outcome.frameLengths, payloads.map { UInt32($0.count) }, context)
            XCTAssertTrue(outcome.released.starts(with: FrameEncoder.encode(payloads: payloads)), context)
            switch error {
            case .frameTooLarge(let declared, let max):
                XCTAssertEqual(max, limit, context)
                XCTAssertEqual(outcome.oversizeLength, declared, context)
                assertSameBytes(outcome.released, FrameEncoder.encode(payloads: payloads), context)
            case nil:
                XCTAssertNil(outcome.oversizeLength, context)
                XCTAssertEqual(outcome.released.count, stream.count - outcome.heldHeaderCount, context)
            }
        }
    }

    // MARK: limits

    func testExactlyMaxFrameIsAcceptedAndOneMoreIsRejected() {
        for limit: UInt32 in [0, 1, 3, 1000, 65_535] {
            let exact = FrameEncoder.encode([UInt8](repeating: 0xAB, count: Int(limit)))
            let accepted = scanStream(exact, maxFrame: limit, chunkSizes: [exact.count])
            assertSameBytes(accepted.released, exact, "max \(limit)")
            XCTAssertEqual(accepted.framesCompleted, 1, "max \(limit)")
            XCTAssertNil(accepted.oversizeLength, "max \(limit)")

            let tooLong = FrameEncoder.encode([UInt8](repeating: 0xAB, count: Int(limit) + 1))
            let rejected = scanStream(tooLong, maxFrame: limit, chunkSizes: [tooLong.count])
            XCTAssertEqual(rejected.released, [], "max \(limit)")
            XCTAssertEqual(rejected.oversizeLength, limit + 1, "max \(limit)")
            XCTAssertEqual(rejected.framesCompleted, 0, "max \(limit)")
        }
    }

    func testLargestDeclarableLengthIsAcceptedWhenMaxFrameIsUInt32Max() {
        var scanner = FrameScanner(maxFrame: .max)
        let header = FramingFixtures.header(.max)
        let result = header.withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(result, FrameScanResult(echoCount: 4))
        XCTAssertTrue(scanner.isMidFrame)
    }

    func testMaxFrameZeroAcceptsOnlyEmptyFrames() {
        let empties = FrameEncoder.encode(payloads: [[UInt8]](repeating: [], count: 5))
        let accepted = scanStream(empties, maxFrame: 0, chunkSizes: [3, 7, 10])
        XCTAssertEqual(accepted.released, empties)
        XCTAssertEqual(accepted.framesCompleted, 5)
        XCTAssertEqual(accepted.frameLengths, [0, 0, 0, 0, 0])

        let stream = empties + FrameEncoder.encode([7])
        let rejected = scanStream(stream, maxFrame: 0, chunkSizes: [stream.count])
        XCTAssertEqual(rejected.released, empties)
        XCTAssertEqual(rejected.oversizeLength, 1)
    }

    // MARK: held header bytes

    func testHeaderSplitAcrossChunksIsHeldThenReleasedAsPrefix() {
        var scanner = FrameScanner(maxFrame: 100)
        let first = [UInt8]([0, 0]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(first, FrameScanResult())
        XCTAssertEqual(scanner.heldHeaderCount, 2)
        XCTAssertTrue(scanner.isMidFrame)

        let second = [UInt8]([0, 3, 0x61, 0x62, 0x63, 0]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(
            second,
            FrameScanResult(heldPrefixCount: 2, heldPrefix: (0, 0, 0), echoCount: 5, framesCompleted: 1))
        XCTAssertEqual(scanner.heldHeaderCount, 1)
        XCTAssertEqual(scanner.framesCompleted, 1)
    }

    func testThreeHeldBytesArriveOneAtATime() {
        var scanner = FrameScanner(maxFrame: 0x0102_0304)
        for byte: UInt8 in [1, 2, 3] {
            let held = [byte].withUnsafeBytes { scanner.scan($0) }
            XCTAssertEqual(held.releasedByteCount, 0)
        }
        XCTAssertEqual(scanner.heldHeaderCount, 3)
        let completed = [UInt8]([4, 9]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(
            completed, FrameScanResult(heldPrefixCount: 3, heldPrefix: (1, 2, 3), echoCount: 2))
        XCTAssertEqual([1, 2, 3].map { completed.heldPrefixByte(at: $0 - 1) }, [1, 2, 3])
    }

    func testHeldHeaderThatCompletesOversizeReleasesNothingOfIt() {
        var scanner = FrameScanner(maxFrame: 16)
        let first = (FrameEncoder.encode([9, 9]) + [0, 0]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(first, FrameScanResult(echoCount: 6, framesCompleted: 1))

        let second = [UInt8]([1, 0, 0xEE]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(second, FrameScanResult(oversizeLength: 256))
        XCTAssertEqual(scanner.oversizeLength, 256)
        XCTAssertFalse(scanner.isMidFrame)
        XCTAssertEqual(scanner.heldHeaderCount, 0)
    }

    func testScannerReleasesNothingAfterAnOversizeHeader() {
        var scanner = FrameScanner(maxFrame: 4)
        let bad = (FrameEncoder.encode([1]) + FramingFixtures.header(5) + [0, 0, 0]).withUnsafeBytes {
            scanner.scan($0)
        }
        XCTAssertEqual(bad, FrameScanResult(echoCount: 5, framesCompleted: 1, oversizeLength: 5))
        let later = FrameEncoder.encode([2]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(later, FrameScanResult())
        XCTAssertEqual(scanner.framesCompleted, 1)
        XCTAssertEqual(scanner.oversizeLength, 5)
    }

    func testEmptyChunkChangesNothing() {
        var scanner = FrameScanner(maxFrame: 10)
        _ = [UInt8]([0, 0, 0]).withUnsafeBytes { scanner.scan($0) }
        let result = [UInt8]().withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(result, FrameScanResult())
        XCTAssertEqual(scanner.heldHeaderCount, 3)
        XCTAssertTrue(scanner.isMidFrame)
    }

    func testPayloadOfUnfinishedFrameIsReleasedImmediately() {
        var scanner = FrameScanner(maxFrame: 10)
        let result = (FramingFixtures.header(10) + [1, 2, 3]).withUnsafeBytes { scanner.scan($0) }
        XCTAssertEqual(result, FrameScanResult(echoCount: 7))
        XCTAssertTrue(scanner.isMidFrame)
        XCTAssertEqual(scanner.heldHeaderCount, 0)
    }

    // MARK: single-send helper

    func testCopyHeldPrefixWritesOnlyTheBytesJustBeforeEnd() {
        let result = FrameScanResult(heldPrefixCount: 2, heldPrefix: (0xA1, 0xA2, 0xA3), echoCount: 1)
        var buffer = [UInt8](repeating: 0x55, count: 8)
        let startOffset = buffer.withUnsafeMutableBytes { raw -> Int in
            let end = raw.baseAddress! + 4
            let start = result.copyHeldPrefix(endingAt: end)
            return start - raw.baseAddress!
        }
        XCTAssertEqual(startOffset, 2)
        XCTAssertEqual(buffer, [0x55, 0x55, 0xA1, 0xA2, 0x55, 0x55, 0x55, 0x55])
    }

    func testScannerStateFitsInThirtyTwoBytes() {
        // The scanner is the whole framing state of every connection (target: < 1 KiB each).
        XCTAssertLessThanOrEqual(MemoryLayout<FrameScanner>.stride, 32)
    }

    func testResultEqualityIgnoresUnusedPrefixBytes() {
        let a = FrameScanResult(heldPrefixCount: 1, heldPrefix: (7, 1, 1), echoCount: 3)
        let b = FrameScanResult(heldPrefixCount: 1, heldPrefix: (7, 2, 2), echoCount: 3)
        let c = FrameScanResult(heldPrefixCount: 1, heldPrefix: (8, 1, 1), echoCount: 3)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }
}

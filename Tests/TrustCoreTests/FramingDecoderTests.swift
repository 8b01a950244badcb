import XCTest

@testable import TrustCore

final class FramingDecoderTests: XCTestCase {
    /// Appends `stream` in the given chunk sizes, draining complete frames after each append.
    private func decodeInChunks(
        _ stream: [UInt8],
        maxFrame: UInt32,
        chunkSizes: [Int],
        largestBuffered: inout Int
    ) -> (payloads: [[UInt8]], error: FramingError?, decoder: FrameDecoder) {
        var decoder = FrameDecoder(maxFrame: maxFrame)
        var payloads: [[UInt8]] = []
        var offset = 0
        for (index, size) in chunkSizes.enumerated() {
            let chunk = stream[offset..<(offset + size)]
            offset += size
            // Exercise both append entry points.
            if index.isMultiple(of: 2) {
                chunk.withUnsafeBytes { decoder.append($0) }
            } else {
                decoder.append(contentsOf: chunk)
            }
            do {
                while let payload = try decoder.nextFrame() {
                    payloads.append(payload)
                }
            } catch {
                return (payloads, error, decoder)
            }
            largestBuffered = max(largestBuffered, decoder.storage.count)
        }
        return (payloads, nil, decoder)
    }

    func testAnySplitDecodesTheEncodedPayloads() {
        for caseIndex in 0..<250 {
            let seed = framingBaseSeed &+ 40_000 &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let payloads = FramingFixtures.payloads(
                count: Int.random(in: 0...6, using: &rng), using: &rng)
            let stream = FrameEncoder.encode(payloads: payloads)
            let starts = FramingFixtures.frameStarts(payloads)
            for split in ChunkSplit.allCases {
                let sizes = split.chunkSizes(streamCount: stream.count, headerStarts: starts, using: &rng)
                var largest = 0
                let decoded = decodeInChunks(
                    stream, maxFrame: 3000, chunkSizes: sizes, largestBuffered: &largest)
                let context = "seed \(seed), split \(split)"
                assertSameBytes(
                    decoded.payloads.flatMap { FrameEncoder.encode($0) },
                    FrameEncoder.encode(payloads: payloads), context)
                XCTAssertNil(decoded.error, context)
                XCTAssertEqual(decoded.decoder.bufferedByteCount, 0, context)
                XCTAssertFalse(decoded.decoder.isMidFrame, context)
            }
        }
    }

    func testOversizeHeaderThrowsAfterTheFramesBeforeIt() {
        for caseIndex in 0..<200 {
            let seed = framingBaseSeed &+ 50_000 &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let limit = UInt32.random(in: 0...3000, using: &rng)
            let before = FramingFixtures.payloads(count: Int.random(in: 0...5, using: &rng), using: &rng)
                .map { Array($0.prefix(Int(limit))) }
            let declared = UInt32.random(in: (limit + 1)...UInt32.max, using: &rng)
            // The payload of the oversize frame never arrives: the error must not wait for it.
            let stream = FrameEncoder.encode(payloads: before) + FramingFixtures.header(declared)
            let sizes = ChunkSplit.random.chunkSizes(
                streamCount: stream.count, headerStarts: [], using: &rng)
            var largest = 0
            var decoded = decodeInChunks(
                stream, maxFrame: limit, chunkSizes: sizes, largestBuffered: &largest)
            let context = "seed \(seed), max \(limit), declared \(declared)"
            assertSameBytes(
                decoded.payloads.flatMap { FrameEncoder.encode($0) }, FrameEncoder.encode(payloads: before),
                context)
            XCTAssertEqual(decoded.error, .frameTooLarge(declared: declared, max: limit), context)
            // The error is sticky: the stream cannot be resynchronised.
            XCTAssertThrowsError(try decoded.decoder.nextFrame(), context) { error in
                XCTAssertEqual(
                    error as? FramingError, .frameTooLarge(declared: declared, max: limit), context)
            }
            XCTAssertFalse(decoded.decoder.isMidFrame, context)
        }
    }

    func testTruncatedStreamIsMidFrameWithTheRestBuffered() {
        for caseIndex in 0..<200 {
            let seed = framingBaseSeed &+ 60_000 &+ UInt64(caseIndex)
            var rng = SplitMix64(seed: seed)
            let payloads = FramingFixtures.payloads(
                count: Int.random(in: 1...5, using: &rng), using: &rng)
            let full = FrameEncoder.encode(payloads: payloads)
            let cut = Int.random(in: 0...full.count, using: &rng)
            let starts = FramingFixtures.frameStarts(payloads)
            let complete = zip(starts, payloads).filter { $0.0 + 4 + $0.1.count <= cut }.map(\.1)
            let completeBytes = FrameEncoder.encode(payloads: complete).count
            let (decodedPayloads, error) = decodeStream(Array(full[..<cut]), maxFrame: 3000)
            let context = "seed \(seed), cut \(cut) of \(full.count)"
            XCTAssertNil(error, context)
            assertSameBytes(
                decodedPayloads.flatMap { FrameEncoder.encode($0) },
                FrameEncoder.encode(payloads: complete), context)

            var decoder = FrameDecoder(maxFrame: 3000)
            decoder.append(contentsOf: full[..<cut])
            while (try? decoder.nextFrame()) != nil {}
            XCTAssertEqual(decoder.bufferedByteCount, cut - completeBytes, context)
            XCTAssertEqual(decoder.isMidFrame, cut > completeBytes, context)
        }
    }

    func testExactlyMaxFrameIsAcceptedAndOneMoreIsRejected() throws {
        for limit: UInt32 in [0, 1, 1000] {
            var decoder = FrameDecoder(maxFrame: limit)
            let exact = [UInt8](repeating: 3, count: Int(limit))
            decoder.append(contentsOf: FrameEncoder.encode(exact))
            XCTAssertEqual(try decoder.nextFrame(), exact, "max \(limit)")

            decoder.append(contentsOf: FrameEncoder.encode(exact + [3]))
            XCTAssertThrowsError(try decoder.nextFrame(), "max \(limit)") { error in
                XCTAssertEqual(error as? FramingError, .frameTooLarge(declared: limit + 1, max: limit))
            }
        }
    }

    func testMaxFrameZeroAcceptsOnlyEmptyFrames() throws {
        var decoder = FrameDecoder(maxFrame: 0)
        decoder.append(contentsOf: FrameEncoder.encode(payloads: [[], [], [9]]))
        XCTAssertEqual(try decoder.nextFrame(), [])
        XCTAssertEqual(try decoder.nextFrame(), [])
        XCTAssertThrowsError(try decoder.nextFrame()) { error in
            XCTAssertEqual(error as? FramingError, .frameTooLarge(declared: 1, max: 0))
        }
    }

    func testIncompleteFrameReturnsNilUntilItsLastByteArrives() throws {
        var decoder = FrameDecoder(maxFrame: 10)
        let frame = FrameEncoder.encode([1, 2, 3])
        for (index, byte) in frame.enumerated() {
            XCTAssertNil(try decoder.nextFrame(), "before byte \(index)")
            XCTAssertEqual(decoder.isMidFrame, index > 0, "before byte \(index)")
            decoder.append(contentsOf: [byte])
        }
        XCTAssertFalse(decoder.isMidFrame)
        XCTAssertEqual(try decoder.nextFrame(), [1, 2, 3])
        XCTAssertNil(try decoder.nextFrame())
        XCTAssertEqual(decoder.bufferedByteCount, 0)
    }

    func testBufferStaysBoundedWhenDrainedAfterEachAppend() {
        var rng = SplitMix64(seed: framingBaseSeed &+ 70_000)
        let limit: UInt32 = 512
        let payloads = (0..<2000).map { _ in
            FramingFixtures.payload(size: Int.random(in: 0...Int(limit), using: &rng), using: &rng)
        }
        let stream = FrameEncoder.encode(payloads: payloads)
        let sizes = ChunkSplit.random.chunkSizes(
            streamCount: stream.count, headerStarts: [], using: &rng
        )
        .flatMap { $0 > 256 ? [256, $0 - 256] : [$0] }  // chunks of at most ~2 frames' worth
        var largest = 0
        let decoded = decodeInChunks(
            stream, maxFrame: limit, chunkSizes: sizes, largestBuffered: &largest)
        XCTAssertEqual(decoded.payloads.count, payloads.count)
        assertSameBytes(
            decoded.payloads.flatMap { FrameEncoder.encode($0) }, FrameEncoder.encode(payloads: payloads),
            "seed \(framingBaseSeed &+ 70_000)")
        // Unconsumed bytes never exceed one partial frame; with lazy compaction the storage
        // holds at most that again plus the compaction threshold and one chunk.
        let bound = 2 * (Int(limit) + 4) + 4096 + (sizes.max() ?? 0)
        XCTAssertLessThanOrEqual(
            largest, bound, "storage grew to \(largest) bytes for a \(stream.count)-byte stream")
    }
}

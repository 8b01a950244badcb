import XCTest

@testable import TrustCore

/// Seed of every property test run; change it to explore, and it is printed with each failure.
let framingBaseSeed: UInt64 = 0x7472_7573_7463_746C

enum FramingFixtures {
    /// A random payload size: often empty or tiny (header-heavy streams), sometimes up to ~3000.
    static func payloadSize(using rng: inout SplitMix64) -> Int {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0...1: return 0
        case 2...6: return Int.random(in: 1...40, using: &rng)
        default: return Int.random(in: 41...3000, using: &rng)
        }
    }

    static func payload(size: Int, using rng: inout SplitMix64) -> [UInt8] {
        (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func payloads(count: Int, using rng: inout SplitMix64) -> [[UInt8]] {
        (0..<count).map { _ in payload(size: payloadSize(using: &rng), using: &rng) }
    }

    static func header(_ length: UInt32) -> [UInt8] {
        let h = FrameEncoder.header(length: length)
        return [h.0, h.1, h.2, h.3]
    }

    /// Offsets at which each frame of `payloads` starts in their encoding.
    static func frameStarts(_ payloads: [[UInt8]]) -> [Int] {
        var starts: [Int] = []
        var offset = 0
        for payload in payloads {
            starts.append(offset)
            offset += 4 + payload.count
        }
        return starts
    }
}

/// Ways to cut a stream into received chunks.
enum ChunkSplit: CaseIterable, CustomStringConvertible {
    case whole
    case bytewise
    /// Every header cut 2 + 2, so every header is held across chunks.
    case headersTwoPlusTwo
    case random

    var description: String {
        switch self {
        case .whole: return "whole"
        case .bytewise: return "bytewise"
        case .headersTwoPlusTwo: return "headers 2+2"
        case .random: return "random"
        }
    }

    /// Chunk sizes covering `streamCount` bytes exactly. `headerStarts` are the offsets of
    /// the headers in the stream (used by `.headersTwoPlusTwo`).
    func chunkSizes(streamCount: Int, headerStarts: [Int], using rng: inout SplitMix64) -> [Int] {
        switch self {
        case .whole:
            return [streamCount]
        case .bytewise:
            return Array(repeating: 1, count: streamCount)
        case .headersTwoPlusTwo:
            let cuts = Set(headerStarts.flatMap { [$0, $0 + 2] }).filter { $0 > 0 && $0 < streamCount }
            return Self.sizes(cuts: cuts.sorted(), streamCount: streamCount)
        case .random:
            var sizes: [Int] = []
            var remaining = streamCount
            while remaining > 0 {
                let size =
                    Bool.random(using: &rng)
                    ? Int.random(in: 0...min(remaining, 7), using: &rng)
                    : Int.random(in: 0...remaining, using: &rng)
                sizes.append(size)
                remaining -= size
            }
            return sizes
        }
    }

    private static func sizes(cuts: [Int], streamCount: Int) -> [Int] {
        var sizes: [Int] = []
        var previous = 0
        for cut in cuts + [streamCount] {
            sizes.append(cut - previous)
            previous = cut
        }
        return sizes
    }
}

/// Everything a scan of a whole stream produced.
struct ScanOutcome: Equatable {
    var released: [UInt8] = []
    var frameLengths: [UInt32] = []
    var framesCompleted: UInt64 = 0
    /// Sum of the per-chunk `FrameScanResult.framesCompleted`; must equal `framesCompleted`.
    var framesReportedInResults = 0
    var oversizeLength: UInt32? = nil
    var isMidFrame = false
    var heldHeaderCount = 0
}

/// Scans `stream` in chunks of `chunkSizes`, the way the server does: each chunk is received
/// at buffer + 4 and the held prefix is written in front of it, so what is "sent" is one
/// contiguous region per chunk.
func scanStream(_ stream: [UInt8], maxFrame: UInt32, chunkSizes: [Int]) -> ScanOutcome {
    var scanner = FrameScanner(maxFrame: maxFrame)
    var outcome = ScanOutcome()
    var resultFrames = 0
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: stream.count + 4, alignment: 8)
    defer { buffer.deallocate() }
    var offset = 0
    stream.withUnsafeBytes { whole in
        for size in chunkSizes {
            let chunkStart = buffer + 4
            if size > 0 {
                chunkStart.copyMemory(from: whole.baseAddress! + offset, byteCount: size)
            }
            offset += size
            let result = scanner.scan(UnsafeRawBufferPointer(start: chunkStart, count: size)) {
                outcome.frameLengths.append($0)
            }
            let sendStart = result.copyHeldPrefix(endingAt: chunkStart)
            outcome.released += UnsafeRawBufferPointer(start: sendStart, count: result.releasedByteCount)
            resultFrames += result.framesCompleted
            if let length = result.oversizeLength {
                outcome.oversizeLength = length
            }
        }
    }
    precondition(offset == stream.count, "chunk sizes must cover the stream")
    outcome.framesCompleted = scanner.framesCompleted
    outcome.isMidFrame = scanner.isMidFrame
    outcome.heldHeaderCount = scanner.heldHeaderCount
    outcome.framesReportedInResults = resultFrames
    return outcome
}

/// Decodes a whole stream with FrameDecoder: the payloads before any error, and the error.
func decodeStream(_ stream: [UInt8], maxFrame: UInt32) -> (
    payloads: [[UInt8]], error: FramingError?
) {
    var decoder = FrameDecoder(maxFrame: maxFrame)
    decoder.append(contentsOf: stream)
    var payloads: [[UInt8]] = []
    do {
        while let payload = try decoder.nextFrame() {
            payloads.append(payload)
        }
        return (payloads, nil)
    } catch {
        return (payloads, error)
    }
}

/// Compares byte streams and reports lengths and the first differing offset, not the
/// (possibly kilobytes long) streams themselves.
func assertSameBytes(
    _ actual: [UInt8],
    _ expected: [UInt8],
    _ context: @autoclosure () -> String,
    file: StaticString = #filePath,
    line: UInt = #line
) {
    guard actual != expected else { return }
    let firstDifference =
        (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] }
        ?? min(actual.count, expected.count)
    XCTFail(
        "got \(actual.count) bytes, expected \(expected.count); first difference at offset \(firstDifference) - \(context())",
        file: file, line: line)
}

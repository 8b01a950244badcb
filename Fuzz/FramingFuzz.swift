// libFuzzer target for the framing code. Not a SwiftPM target: `make fuzz` compiles it
// with swiftc together with Sources/TrustCore/Framing/*.swift (which is why those files
// import nothing). Differential check: the cut-through FrameScanner must release the same
// bytes, frames and verdict whatever way the stream is split, and must agree with the
// whole-frame FrameDecoder. Any disagreement traps, which libFuzzer reports as a crash.
//
// Input layout: bytes 0-1 choose maxFrame (big-endian UInt16; 0xFFFF means UInt32.max),
// bytes 2-3 seed the random split points, the rest is the framed stream.

/// What one scan of a whole stream produced, however it was split.
struct ScanOutcome: Equatable {
    var released: [UInt8] = []
    var frameLengths: [UInt32] = []
    var framesCompleted: UInt64 = 0
    var resultFrames = 0
    var oversizeLength: UInt32? = nil
    var isMidFrame = false
    var heldHeaderCount = 0
}

/// Scans `stream` cut into chunks of the given sizes (the last chunk takes the rest).
/// Each chunk is received at scratch + 4, the way the server does, and the held prefix is
/// written in front of it so the released region is one contiguous run, as the server sends it.
func scanInChunks(_ stream: [UInt8], maxFrame: UInt32, chunkSize: (Int) -> Int) -> ScanOutcome {
    var scanner = FrameScanner(maxFrame: maxFrame)
    var outcome = ScanOutcome()
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: stream.count + 8, alignment: 8)
    defer { scratch.deallocate() }
    var offset = 0
    var lastResultHadOversize = false
    repeat {
        let size = min(max(chunkSize(stream.count - offset), 0), stream.count - offset)
        stream.withUnsafeBytes { whole in
            let chunkStart = scratch + 4
            if size > 0 {
                chunkStart.copyMemory(from: whole.baseAddress! + offset, byteCount: size)
            }
            let chunk = UnsafeRawBufferPointer(start: chunkStart, count: size)
            let result = scanner.scan(chunk) { outcome.frameLengths.append($0) }
            check(
                !lastResultHadOversize || result == FrameScanResult(), "scan after error released bytes")
            check(result.heldPrefixCount >= 0 && result.heldPrefixCount <= 3)
            check(result.echoCount >= 0 && result.echoCount <= size)
            let start = result.copyHeldPrefix(endingAt: chunkStart)
            outcome.released.append(
                contentsOf: UnsafeRawBufferPointer(start: start, count: result.releasedByteCount))
            outcome.resultFrames += result.framesCompleted
            if let length = result.oversizeLength {
                check(outcome.oversizeLength == nil, "two oversize verdicts")
                outcome.oversizeLength = length
                lastResultHadOversize = true
            }
        }
        offset += size
    } while offset < stream.count
    outcome.framesCompleted = scanner.framesCompleted
    outcome.isMidFrame = scanner.isMidFrame
    outcome.heldHeaderCount = scanner.heldHeaderCount
    check(scanner.oversizeLength == outcome.oversizeLength)
    check(outcome.resultFrames == Int(outcome.framesCompleted))
    check(outcome.frameLengths.count == outcome.resultFrames)
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func framingFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 4 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let maxChoice = UInt32(input[0]) << 8 | UInt32(input[1])
    let maxFrame = maxChoice == 0xFFFF ? UInt32.max : maxChoice
    let seed = UInt64(input[2]) << 8 | UInt64(input[3])
    let stream = Array(input[4...])

    let whole = scanInChunks(stream, maxFrame: maxFrame) { $0 }
    let bytewise = scanInChunks(stream, maxFrame: maxFrame) { _ in 1 }
    var random = SplitRandom(seed: seed)
    let randomSplit = scanInChunks(stream, maxFrame: maxFrame) { remaining in
        // Mostly small chunks (header splits), sometimes large ones; 0-byte chunks too.
        random.next(below: 4) == 0 ? random.next(below: remaining + 1) : random.next(below: 6)
    }
    check(bytewise == whole, "1-byte split differs from whole")
    check(randomSplit == whole, "random split differs from whole")

    // Released bytes are always the stream's own bytes, in order.
    check(whole.released.count <= stream.count)
    check(
        whole.released[...] == stream[..<whole.released.count], "released bytes are not a prefix")

    var decoder = FrameDecoder(maxFrame: maxFrame)
    stream.withUnsafeBytes { decoder.append($0) }
    var payloads: [[UInt8]] = []
    var decoderOversize: UInt32? = nil
    while true {
        do {
            guard let payload = try decoder.nextFrame() else { break }
            payloads.append(payload)
        } catch {
            guard case .frameTooLarge(let declared, let max) = error else {
                fatalError("unexpected error")
            }
            check(max == maxFrame)
            decoderOversize = declared
            break
        }
    }
    check(payloads.map { UInt32($0.count) } == whole.frameLengths, "frame lengths differ")
    check(decoderOversize == whole.oversizeLength, "oversize verdicts differ")
    let encoded = FrameEncoder.encode(payloads: payloads)
    if whole.oversizeLength != nil {
        check(
            whole.released == encoded, "released bytes after oversize are not the valid frames")
        check(!whole.isMidFrame && whole.heldHeaderCount == 0)
    } else {
        check(whole.released.count == stream.count - whole.heldHeaderCount)
        check(whole.released.starts(with: encoded), "frames are not a prefix of released bytes")
        check(decoder.isMidFrame == whole.isMidFrame, "isMidFrame differs")
        check(decoder.bufferedByteCount == stream.count - encoded.count)
    }
    return 0
}

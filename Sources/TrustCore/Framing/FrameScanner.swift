// Pure Swift on purpose: the Framing folder is compiled alone into the fuzzer,
// so it imports nothing (no Foundation, no other TrustCore pieces).

/// Cut-through validator for the framed echo protocol (4-byte big-endian length, then
/// that many payload bytes).
///
/// The echo of a valid frame is its own bytes, so the server never buffers whole frames:
/// for each received chunk the scanner says how many bytes may be echoed now. Payload
/// bytes are released as they arrive; only the bytes of a header that is not yet complete
/// are held (at most 3, kept inside the scanner's state), because an oversize header must
/// not be echoed at all. The whole state is a few integers.
///
/// After an oversize header the scanner stays in an error state: `oversizeLength` is set
/// and every later scan releases nothing.
public struct FrameScanner: Sendable {
    /// Most header bytes a scan can hold back, hence most bytes of a `heldPrefix`.
    public static let maxHeldPrefix = 3

    // Stored properties ordered widest first so the state packs into 26 bytes (stride 32):
    // it lives in every connection.
    @usableFromInline var completedFrames: UInt64 = 0

    /// Largest payload length a header may declare.
    public let maxFrame: UInt32

    /// While `heldHeaderBytes > 0`: the header bytes seen so far, as a big-endian number.
    /// While `payloadLeft > 0`: the current frame's payload length (for `onFrame`).
    @usableFromInline var headerValue: UInt32 = 0
    @usableFromInline var payloadLeft: UInt32 = 0
    @usableFromInline var rejectedLength: UInt32? = nil
    @usableFromInline var heldHeaderBytes: UInt8 = 0

    @inlinable
    public init(maxFrame: UInt32) {
        self.maxFrame = maxFrame
    }

    /// Frames completed since the scanner was created.
    @inlinable
    public var framesCompleted: UInt64 { completedFrames }

    /// True while a frame is partly received (some header bytes or payload bytes missing).
    /// False after an oversize header: that frame was rejected, not truncated.
    @inlinable
    public var isMidFrame: Bool { heldHeaderBytes > 0 || payloadLeft > 0 }

    /// Header bytes received but not yet released because the header is incomplete (0...3).
    @inlinable
    public var heldHeaderCount: Int { Int(heldHeaderBytes) }

    /// The length declared by the oversize header that put the scanner in its error state.
    @inlinable
    public var oversizeLength: UInt32? { rejectedLength }

    /// Scan one received chunk.
    @inlinable
    public mutating func scan(_ chunk: UnsafeRawBufferPointer) -> FrameScanResult {
        scanChunk(chunk, reportingFramesTo: { _ in })
    }

    /// Scan one received chunk, calling `onFrame` with each completed frame's payload length
    /// (for debug logging). The plain `scan(_:)` does not pay for this: both inline one
    /// body taking a non-escaping closure; the plain one passes an empty closure, which the
    /// optimiser removes (its -O code has no calls), and neither allocates a closure context.
    @inlinable
    public mutating func scan(_ chunk: UnsafeRawBufferPointer, onFrame: (UInt32) -> Void)
        -> FrameScanResult
    {
        scanChunk(chunk, reportingFramesTo: onFrame)
    }

    /// The one scan body behind both public `scan` variants. Always inlined, so the plain
    /// variant's empty closure disappears. Every early return leaves the state consistent.
    @inlinable
    @inline(__always)
    mutating func scanChunk(
        _ chunk: UnsafeRawBufferPointer,
        reportingFramesTo frameCompleted: (UInt32) -> Void
    ) -> FrameScanResult {
        var result = FrameScanResult()
        guard rejectedLength == nil, let base = chunk.baseAddress else { return result }
        let count = chunk.count
        var index = 0
        var left = UInt(payloadLeft)
        var length = headerValue

        // A header begun in an earlier chunk: finish it first. Its bytes were held and are
        // released (as heldPrefix) only once the whole header proves valid.
        if heldHeaderBytes > 0 {
            let heldCount = Int(heldHeaderBytes)
            let held = headerValue
            var seen = heldCount
            while seen < 4 && index < count {
                length = length << 8 | UInt32(Self.byte(base, index))
                seen += 1
                index += 1
            }
            if seen < 4 {
                heldHeaderBytes = UInt8(truncatingIfNeeded: seen)
                headerValue = length
                return result
            }
            heldHeaderBytes = 0
            if length > maxFrame {
                return reject(length, echoing: 0, completed: 0, into: &result)
            }
            result.heldPrefixCount = heldCount
            result.heldPrefix = Self.leadingBytes(of: held, count: heldCount)
            left = UInt(length)
            if left == 0 {
                result.framesCompleted += 1
                frameCompleted(0)
            }
        }

        while index < count {
            if left > 0 {
                let available = UInt(count - index)
                if available < left {
                    left -= available
                    index = count
                    break
                }
                index += Int(left)
                left = 0
                result.framesCompleted += 1
                frameCompleted(length)
                continue
            }
            if count - index >= 4 {
                length = Self.bigEndianUInt32(base, index)
                if length > maxFrame {
                    return reject(length, echoing: index, completed: result.framesCompleted, into: &result)
                }
                index += 4
                left = UInt(length)
                if left == 0 {
                    result.framesCompleted += 1
                    frameCompleted(0)
                }
            } else {
                // The chunk ends inside a header: hold its 1...3 bytes until it completes.
                let tail = count - index
                var partial: UInt32 = 0
                for offset in index..<count {
                    partial = partial << 8 | UInt32(Self.byte(base, offset))
                }
                heldHeaderBytes = UInt8(truncatingIfNeeded: tail)
                headerValue = partial
                payloadLeft = 0
                completedFrames &+= UInt64(result.framesCompleted)
                result.echoCount = index
                return result
            }
        }

        payloadLeft = UInt32(truncatingIfNeeded: left)
        headerValue = length
        completedFrames &+= UInt64(result.framesCompleted)
        result.echoCount = count
        return result
    }

    /// Enters the error state after an oversize header; releases only what came before it.
    @inlinable
    @inline(__always)
    mutating func reject(
        _ length: UInt32,
        echoing echoCount: Int,
        completed: Int,
        into result: inout FrameScanResult
    ) -> FrameScanResult {
        rejectedLength = length
        heldHeaderBytes = 0
        headerValue = 0
        payloadLeft = 0
        completedFrames &+= UInt64(completed)
        result.echoCount = echoCount
        result.oversizeLength = length
        return result
    }

    /// The first `count` (1...3) of the big-endian bytes accumulated in `value`.
    @inlinable
    @inline(__always)
    static func leadingBytes(of value: UInt32, count: Int) -> (UInt8, UInt8, UInt8) {
        // `value` holds exactly `count` bytes; left-align them so byte 0 is the first one.
        let aligned = value << UInt32(8 * (4 - count))
        return (
            UInt8(truncatingIfNeeded: aligned >> 24), UInt8(truncatingIfNeeded: aligned >> 16),
            UInt8(truncatingIfNeeded: aligned >> 8)
        )
    }

    /// Safe because callers pass `offset < chunk.count` of the chunk `base` starts.
    @inlinable
    @inline(__always)
    static func byte(_ base: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Safe because callers pass `offset + 4 <= chunk.count`; the load is unaligned, so
    /// headers may start at any byte.
    @inlinable
    @inline(__always)
    static func bigEndianUInt32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

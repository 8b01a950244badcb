import CZlibShim
import Foundation
import Histogram

/// HdrHistogram's V2 compressed encoding of a `LatencyRecorder`'s histogram,
/// base64: what HdrHistogram's own tools (Java, C, Python `hdrh`) read and
/// write in interval logs, and what `--json` embeds so that
/// `echo-load-test merge` can add runs together without losing anything.
///
/// Layout (all big-endian): an outer header (cookie 0x1c849314, length of
/// the zlib stream) and a zlib stream of: cookie 0x1c849313, counts payload
/// length, normalizing index offset (0), significant digits, lowest
/// discernible value, highest trackable value, integer-to-double ratio
/// (1.0, as IEEE bits); then the counts array as ZigZag LEB128 varints,
/// a run of zeros written as one negative number (minus its length).
public enum HdrHistogramCodec {
    static let encodingCookie: UInt32 = 0x1c84_9313
    static let compressionCookie: UInt32 = 0x1c84_9314
    static let payloadHeaderLength = 40

    /// The counts-array layout of a histogram with lowest discernible value
    /// 1 and `digits` significant digits (Java's HdrHistogram index math).
    struct Layout {
        let subBucketHalfCountMagnitude: Int
        let subBucketHalfCount: Int
        let subBucketMask: UInt64

        init(digits: Int) {
            let largestSingleUnit = 2 * UInt64(pow(10.0, Double(digits)))
            let magnitude = Int((log2(Double(largestSingleUnit))).rounded(.up))
            subBucketHalfCountMagnitude = max(magnitude, 1) - 1
            subBucketHalfCount = 1 << subBucketHalfCountMagnitude
            subBucketMask = UInt64(1 << (subBucketHalfCountMagnitude + 1)) - 1
        }

        func index(of value: UInt64) -> Int {
            let bucket = (64 - subBucketHalfCountMagnitude - 1) - (value | subBucketMask).leadingZeroBitCount
            let subBucket = Int(value >> UInt64(bucket))
            return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
        }

        func value(at index: Int) -> UInt64 {
            var bucket = (index >> subBucketHalfCountMagnitude) - 1
            var subBucket = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
            if bucket < 0 {
                subBucket -= subBucketHalfCount
                bucket = 0
            }
            return UInt64(subBucket) << UInt64(bucket)
        }
    }

    static let layout = Layout(digits: 3)

    /// The histogram, V2 compressed, base64 (no line breaks).
    public static func encode(_ recorder: LatencyRecorder) -> String {
        let histogram = recorder.histogram
        var counts: [(index: Int, count: UInt64)] = []
        for entry in histogram.recordedValues() where entry.count > 0 {
            counts.append((layout.index(of: entry.value), entry.count))
        }
        var varints: [UInt8] = []
        var next = 0
        for (index, count) in counts {
            if index > next { appendZigZag(-Int64(index - next), to: &varints) }
            appendZigZag(Int64(clamping: count), to: &varints)
            next = index + 1
        }
        var payload: [UInt8] = []
        appendBigEndian(encodingCookie, to: &payload)
        appendBigEndian(UInt32(varints.count), to: &payload)
        appendBigEndian(UInt32(0), to: &payload)
        appendBigEndian(UInt32(3), to: &payload)
        appendBigEndian(UInt64(1), to: &payload)
        appendBigEndian(LatencyRecorder.highestMicroseconds, to: &payload)
        appendBigEndian((1.0 as Double).bitPattern, to: &payload)
        payload += varints
        let compressed = deflate(payload)
        var outer: [UInt8] = []
        appendBigEndian(compressionCookie, to: &outer)
        appendBigEndian(UInt32(compressed.count), to: &outer)
        outer += compressed
        return Data(outer).base64EncodedString()
    }

    /// Reads what `encode` (or any HdrHistogram V2 compressed encoder)
    /// wrote, for a histogram of the recorder's layout (3 significant
    /// digits, lowest discernible value 1): anything else cannot be merged
    /// losslessly and is refused.
    public static func decode(_ text: String) throws(TrustError) -> LatencyRecorder {
        guard let data = Data(base64Encoded: text) else { throw bad("not base64") }
        let bytes = [UInt8](data)
        guard bytes.count >= 8, readBigEndian32(bytes, 0) == compressionCookie else {
            throw bad("not an HdrHistogram V2 compressed histogram (bad cookie)")
        }
        let length = Int(readBigEndian32(bytes, 4))
        guard length == bytes.count - 8 else { throw bad("truncated HdrHistogram (length \(length))") }
        let payload = try inflate(Array(bytes[8...]))
        guard payload.count >= payloadHeaderLength, readBigEndian32(payload, 0) == encodingCookie else {
            throw bad("bad HdrHistogram payload cookie")
        }
        let countsLength = Int(readBigEndian32(payload, 4))
        let digits = readBigEndian32(payload, 12)
        let lowest = readBigEndian64(payload, 16)
        guard readBigEndian32(payload, 8) == 0, digits == 3, lowest == 1 else {
            throw bad("HdrHistogram with \(digits) digits and lowest value \(lowest): expected 3 and 1")
        }
        guard payloadHeaderLength + countsLength <= payload.count else {
            throw bad("truncated HdrHistogram counts")
        }
        var recorder = LatencyRecorder()
        var position = payloadHeaderLength
        let end = payloadHeaderLength + countsLength
        var index = 0
        while position < end {
            let value = try readZigZag(payload, &position, end)
            if value < 0 {
                index += Int(clamping: -value)
                continue
            }
            if value > 0 {
                let v = layout.value(at: index)
                guard v <= LatencyRecorder.highestMicroseconds else { throw bad("HdrHistogram value out of range") }
                recorder.record(microseconds: v, count: UInt64(value))
            }
            index += 1
        }
        return recorder
    }

    /// A histogram that cannot be read is bad input data (exit 65).
    static func bad(_ message: String) -> TrustError { TrustError(kind: .dataMismatch, message: message) }

    // MARK: - Bytes

    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        var v = value.bigEndian
        withUnsafeBytes(of: &v) { bytes += $0 }
    }

    static func readBigEndian32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[at + $1]) }
    }

    static func readBigEndian64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[at + $1]) }
    }

    static func appendZigZag(_ value: Int64, to bytes: inout [UInt8]) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// LEB128 as HdrHistogram writes it: at most 9 bytes, the 9th carrying 8 bits.
    static func readZigZag(_ bytes: [UInt8], _ position: inout Int, _ end: Int) throws(TrustError) -> Int64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw bad("truncated HdrHistogram varint") }
            let byte = bytes[position]
            position += 1
            if shift == 56 {
                v |= UInt64(byte) << 56
                break
            }
            v |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    /// zlib's compress2 on the bytes: `czlib_compress` is given the array's
    /// own storage and its capacity, so it never writes past the buffer.
    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: max(czlib_bound(input.count), 64))
        var length = output.count
        let rc = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                czlib_compress(src.baseAddress, src.count, dst.baseAddress, &length)
            }
        }
        precondition(rc == 0, "zlib compress2 failed with a bound-sized buffer")
        return Array(output[0..<length])
    }

    /// zlib's uncompress, growing the buffer until the stream fits (bounded:
    /// a histogram's counts never need more than 64 MiB).
    static func inflate(_ input: [UInt8]) throws(TrustError) -> [UInt8] {
        var capacity = max(input.count * 8, 4096)
        while capacity <= 64 << 20 {
            var output = [UInt8](repeating: 0, count: capacity)
            var length = capacity
            let rc = input.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    czlib_uncompress(src.baseAddress, src.count, dst.baseAddress, &length)
                }
            }
            if rc == 0 { return Array(output[0..<length]) }
            if rc != -ENOBUFS { throw bad("HdrHistogram: not a zlib stream") }
            capacity *= 4
        }
        throw bad("HdrHistogram: inflated payload too large")
    }
}

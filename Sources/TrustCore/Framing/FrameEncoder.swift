// Pure Swift on purpose: the Framing folder is compiled alone into the fuzzer.

/// Builds framed messages: a 4-byte big-endian unsigned payload length, then the payload.
public enum FrameEncoder {
    /// Size of a frame header in bytes.
    public static let headerSize = 4

    /// The four header bytes, most significant first, for a payload of `length` bytes.
    @inlinable
    @inline(__always)
    public static func header(length: UInt32) -> (UInt8, UInt8, UInt8, UInt8) {
        (
            UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16),
            UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)
        )
    }

    /// Writes the header for a payload of `length` bytes into the 4 bytes at `destination`.
    ///
    /// Safe when the caller owns at least `headerSize` writable bytes at `destination`;
    /// the store is unaligned so any byte address works.
    @inlinable
    @inline(__always)
    public static func writeHeader(length: UInt32, to destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: length.bigEndian, as: UInt32.self)
    }

    /// One frame: header followed by `payload`.
    ///
    /// - Precondition: `payload.count` fits in a `UInt32` (a frame cannot describe more).
    @inlinable
    public static func encode(_ payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + payload.count)
        append(payload, to: &out)
        return out
    }

    /// Several frames back to back, one per payload, in order.
    ///
    /// - Precondition: every payload's count fits in a `UInt32`.
    @inlinable
    public static func encode<Payload: Collection<UInt8>>(payloads: some Sequence<Payload>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payloads.underestimatedCount * headerSize)
        for payload in payloads {
            append(payload, to: &out)
        }
        return out
    }

    /// Appends one frame (header and payload) to `out`.
    ///
    /// - Precondition: `payload.count` fits in a `UInt32`.
    @inlinable
    public static func append(_ payload: some Collection<UInt8>, to out: inout [UInt8]) {
        guard let length = UInt32(exactly: payload.count) else {
            preconditionFailure("frame payload of \(payload.count) bytes exceeds the 4-byte length field")
        }
        let h = header(length: length)
        out.append(h.0)
        out.append(h.1)
        out.append(h.2)
        out.append(h.3)
        out.append(contentsOf: payload)
    }
}

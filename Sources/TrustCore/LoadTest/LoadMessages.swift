#if canImport(Glibc)
    import Glibc
#endif

/// The messages of one load-test loop and what their echoes must be,
/// allocated once.
///
/// Every message is a slice of one pattern buffer (`PayloadPattern`,
/// period + payload bytes, so a message at any offset below the period is
/// contiguous); a framed message is preceded by the header `FrameEncoder`
/// writes. What an echo must be is therefore known from the message's
/// offset alone, and each chunk that arrives is checked with memcmp as it
/// lands, however TCP split it. Nothing is allocated or copied per message
/// except a frame's first bytes (see `chunk`).
struct LoadMessages: ~Copyable {
    /// Bytes of one message on the wire (and of its echo).
    let messageLength: Int
    /// 4 when framed, 0 when raw.
    let headerLength: Int
    let payloadSize: Int
    private let pattern: UnsafeMutableRawPointer
    /// The frame header of every message (all have the same length).
    private let header: UnsafeMutableRawPointer
    /// A frame's header and the start of its payload, sent in one call.
    private let firstSend: UnsafeMutableRawPointer
    static let firstSendCapacity = 64 * 1024

    init(options: LoadTestOptions) {
        payloadSize = options.payloadSize
        headerLength = options.mode == .framed ? FrameEncoder.headerSize : 0
        messageLength = payloadSize + headerLength
        let patternLength = PayloadPattern.period + payloadSize
        pattern = .allocate(byteCount: patternLength, alignment: 16)
        LoadMessages.copy(PayloadPattern.bytes(count: patternLength), to: pattern)
        header = .allocate(byteCount: FrameEncoder.headerSize, alignment: 16)
        // Validation caps the payload far below 4 GiB; clamping keeps even
        // an unvalidated size from trapping (the echo would then mismatch).
        FrameEncoder.writeHeader(length: UInt32(clamping: payloadSize), to: header)
        firstSend = .allocate(byteCount: LoadMessages.firstSendCapacity, alignment: 16)
    }

    deinit {
        pattern.deallocate()
        header.deallocate()
        firstSend.deallocate()
    }

    /// Safe: `destination` was allocated with at least `bytes.count` bytes.
    private static func copy(_ bytes: [UInt8], to destination: UnsafeMutableRawPointer) {
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Where message `message` of client `client` starts in the pattern.
    @inline(__always)
    func offset(client: Int, message: Int) -> Int { PayloadPattern.offset(client: client, message: message) }

    /// The bytes to send next of the message at `offset`, `sent` bytes of
    /// which the kernel has taken. While the header is not all sent, the
    /// rest of it and as much payload as fits are copied into one scratch
    /// buffer, so they leave in one call (one segment for small messages);
    /// after that, straight from the pattern.
    ///
    /// Safe: the pointers stay inside the pattern (offset < period, so
    /// offset + payloadSize is within period + payloadSize) or the scratch
    /// buffer, and the counts are what is left of the message.
    @inline(__always)
    func chunk(offset: Int, sent: Int) -> (bytes: UnsafeRawPointer, count: Int) {
        chunk(offset: offset, sent: sent, scratch: firstSend, capacity: LoadMessages.firstSendCapacity)
    }

    /// The same, with the caller's scratch buffer of `capacity` (> 4)
    /// bytes: io_uring sends of several slots are in flight at once, so
    /// each slot has its own.
    @inline(__always)
    func chunk(offset: Int, sent: Int, scratch: UnsafeMutableRawPointer, capacity: Int) -> (
        bytes: UnsafeRawPointer, count: Int
    ) {
        if sent >= headerLength {
            return (UnsafeRawPointer(pattern + offset + (sent - headerLength)), messageLength - sent)
        }
        let headerPart = headerLength - sent
        scratch.copyMemory(from: header + sent, byteCount: headerPart)
        let payloadPart = min(payloadSize, capacity - headerPart)
        (scratch + headerPart).copyMemory(from: pattern + offset, byteCount: payloadPart)
        return (UnsafeRawPointer(scratch), headerPart + payloadPart)
    }

    /// Compares `count` received bytes at `received`, which belong at
    /// `position` of the echo of the message at `offset`, with what was
    /// sent: the header (framed), then the pattern slice. Returns the first
    /// differing position, nil if all are equal.
    ///
    /// Safe: the caller guarantees position + count <= messageLength, so
    /// both comparisons stay inside the header and the pattern slice.
    @inline(__always)
    func firstDifference(_ received: UnsafeRawPointer, count: Int, at position: Int, offset: Int) -> Int? {
        var checked = 0
        if position < headerLength {
            let headerPart = min(headerLength - position, count)
            if memcmp(received, header + position, headerPart) != 0 { return position }
            checked = headerPart
        }
        if checked < count {
            let payloadPosition = position + checked - headerLength
            if memcmp(received + checked, pattern + offset + payloadPosition, count - checked) != 0 {
                return position + checked
            }
        }
        return nil
    }
}

// Pure Swift on purpose: the Framing folder is compiled alone into the fuzzer.

/// Whole-frame decoder for request/response protocols that need complete messages
/// (the echo server does not: it uses the cut-through `FrameScanner`).
///
/// Append received bytes, then call `nextFrame()` until it returns nil. Consumed bytes are
/// dropped lazily: the buffer is compacted only when the consumed prefix is at least half
/// of it, so compaction costs amortised O(1) per byte rather than a copy per frame. Memory
/// is what was appended and not yet consumed (at most one partial frame, `maxFrame + 4`,
/// when the caller drains after each append), plus at most as much again before compaction.
public struct FrameDecoder: Sendable {
    /// Largest payload length a header may declare.
    public let maxFrame: UInt32

    @usableFromInline var storage: [UInt8] = []
    /// Index in `storage` of the first unconsumed byte.
    @usableFromInline var readIndex = 0

    public init(maxFrame: UInt32) {
        self.maxFrame = maxFrame
    }

    /// Bytes appended and not yet returned as part of a frame.
    public var bufferedByteCount: Int { storage.count - readIndex }

    /// True while a frame is partly received: bytes are buffered but the frame at the head
    /// is incomplete. False when nothing is buffered, when a whole frame is ready, and when
    /// the head's header is oversize (`nextFrame()` throws for that one).
    public var isMidFrame: Bool {
        let buffered = bufferedByteCount
        guard buffered > 0 else { return false }
        guard let length = headLength() else { return true }
        return length <= maxFrame && UInt64(buffered) < 4 + UInt64(length)
    }

    /// Appends received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthIt(incoming: bytes.count)
        storage.append(contentsOf: bytes)
    }

    /// Appends received bytes.
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        compactIfWorthIt(incoming: bytes.underestimatedCount)
        storage.append(contentsOf: bytes)
    }

    /// The payload of the next complete frame, or nil if the next frame is not complete yet.
    ///
    /// Throws `FramingError.frameTooLarge` as soon as a header declaring more than `maxFrame`
    /// is complete (without waiting for its payload); the header is not consumed, so every
    /// later call throws the same error. The stream cannot be resynchronised after that.
    public mutating func nextFrame() throws(FramingError) -> [UInt8]? {
        guard let length = headLength() else { return nil }
        guard length <= maxFrame else {
            throw .frameTooLarge(declared: length, max: maxFrame)
        }
        let payloadStart = readIndex + FrameEncoder.headerSize
        let payloadEnd = payloadStart + Int(length)
        guard payloadEnd <= storage.count else { return nil }
        let payload = Array(storage[payloadStart..<payloadEnd])
        readIndex = payloadEnd
        if readIndex == storage.count {
            // Everything consumed: reset in place, which is free and keeps the capacity.
            storage.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        return payload
    }

    /// The length declared by the header at the head of the buffer, if it is complete.
    @usableFromInline
    func headLength() -> UInt32? {
        guard bufferedByteCount >= FrameEncoder.headerSize else { return nil }
        var length: UInt32 = 0
        for offset in readIndex..<(readIndex + FrameEncoder.headerSize) {
            length = length << 8 | UInt32(storage[offset])
        }
        return length
    }

    /// Drops the consumed prefix once it is at least half of the buffer (and the buffer
    /// would otherwise grow), so each byte is moved at most a bounded number of times.
    @usableFromInline
    mutating func compactIfWorthIt(incoming: Int) {
        guard readIndex > 0, readIndex >= storage.count - readIndex,
            storage.count + incoming > storage.capacity || readIndex >= 4096
        else { return }
        storage.removeSubrange(0..<readIndex)
        readIndex = 0
    }
}

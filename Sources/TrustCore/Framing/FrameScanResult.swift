// Pure Swift on purpose: the Framing folder is compiled alone into the fuzzer.

/// What `FrameScanner.scan` allows the echo server to send for one received chunk.
///
/// The bytes to send, in order, are `heldPrefix` (its first `heldPrefixCount` bytes)
/// followed by the first `echoCount` bytes of the chunk. The value holds no
/// references, so producing one never allocates.
public struct FrameScanResult: Sendable, Equatable {
    /// Header bytes held back from earlier chunks that must be echoed BEFORE this chunk's
    /// bytes, because their header completed validly in this chunk (0...3).
    public var heldPrefixCount: Int
    /// The held header bytes, in order; only the first `heldPrefixCount` are meaningful.
    /// A tuple rather than an array so that a result never allocates.
    public var heldPrefix: (UInt8, UInt8, UInt8)
    /// Bytes from the start of the chunk that may be echoed now (after `heldPrefix`).
    public var echoCount: Int
    /// Frames completed within this chunk.
    public var framesCompleted: Int
    /// Set when a header declared more than `maxFrame`: the declared length. Everything
    /// before that header has been released; the connection must close after echoing it.
    public var oversizeLength: UInt32?

    @inlinable
    public init(
        heldPrefixCount: Int = 0,
        heldPrefix: (UInt8, UInt8, UInt8) = (0, 0, 0),
        echoCount: Int = 0,
        framesCompleted: Int = 0,
        oversizeLength: UInt32? = nil
    ) {
        self.heldPrefixCount = heldPrefixCount
        self.heldPrefix = heldPrefix
        self.echoCount = echoCount
        self.framesCompleted = framesCompleted
        self.oversizeLength = oversizeLength
    }

    /// Total bytes to send for this chunk: the held prefix plus the chunk's echoable bytes.
    @inlinable
    public var releasedByteCount: Int { heldPrefixCount + echoCount }

    /// Held prefix byte `index` (0..<heldPrefixCount).
    @inlinable
    public func heldPrefixByte(at index: Int) -> UInt8 {
        precondition(index >= 0 && index < heldPrefixCount, "held prefix index out of range")
        switch index {
        case 0: return heldPrefix.0
        case 1: return heldPrefix.1
        default: return heldPrefix.2
        }
    }

    /// Writes the held prefix into the `heldPrefixCount` bytes just before `end` and returns
    /// the start of the region to send: `releasedByteCount` bytes from the returned pointer.
    ///
    /// This is the single-send trick: the server receives each chunk at `buffer + 4`, so up
    /// to 3 held bytes fit in front of it and prefix + echoable bytes are one contiguous region.
    /// Safe when the caller owns at least `FrameScanner.maxHeldPrefix` writable bytes before
    /// `end`; nothing at or after `end` is written.
    @inlinable
    @discardableResult
    public func copyHeldPrefix(endingAt end: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        let start = end - heldPrefixCount
        if heldPrefixCount > 0 { start.storeBytes(of: heldPrefix.0, as: UInt8.self) }
        if heldPrefixCount > 1 { (start + 1).storeBytes(of: heldPrefix.1, as: UInt8.self) }
        if heldPrefixCount > 2 { (start + 2).storeBytes(of: heldPrefix.2, as: UInt8.self) }
        return start
    }

    /// Compares only the meaningful held prefix bytes (tuples are not Equatable).
    @inlinable
    public static func == (lhs: FrameScanResult, rhs: FrameScanResult) -> Bool {
        guard
            lhs.heldPrefixCount == rhs.heldPrefixCount, lhs.echoCount == rhs.echoCount,
            lhs.framesCompleted == rhs.framesCompleted, lhs.oversizeLength == rhs.oversizeLength
        else { return false }
        for index in 0..<min(max(lhs.heldPrefixCount, 0), FrameScanner.maxHeldPrefix)
        where lhs.heldPrefixByte(at: index) != rhs.heldPrefixByte(at: index) {
            return false
        }
        return true
    }
}

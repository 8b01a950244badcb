// PROVISIONAL: replaced by the framing branch on merge.
public struct FrameScanResult: Sendable, Equatable {
    public var heldPrefixCount: Int = 0
    public var heldPrefix: UInt32 = 0
    public var echoCount: Int = 0
    public var framesCompleted: Int = 0
    public var oversizeLength: UInt32? = nil
}

public struct FrameScanner: Sendable {
    public let maxFrame: UInt32
    public private(set) var framesCompleted: UInt64 = 0
    private var headerSeen = 0
    private var header: UInt32 = 0
    private var remaining: UInt32 = 0
    private var failed = false

    public init(maxFrame: UInt32) { self.maxFrame = maxFrame }

    public var isMidFrame: Bool { headerSeen > 0 || remaining > 0 }
    public var heldHeaderCount: Int { headerSeen }

    public mutating func scan(_ chunk: UnsafeRawBufferPointer) -> FrameScanResult {
        var result = FrameScanResult()
        if failed { return result }
        let held = headerSeen
        let heldValue = header
        var i = 0
        let n = chunk.count
        var headerStart = -held
        while i < n {
            if remaining > 0 {
                let take = min(Int(remaining), n - i)
                i += take
                remaining -= UInt32(take)
                if remaining == 0 {
                    framesCompleted += 1
                    result.framesCompleted += 1
                }
                continue
            }
            if headerSeen == 0 { headerStart = i }
            header = header << 8 | UInt32(chunk[i])
            headerSeen += 1
            i += 1
            if headerSeen == 4 {
                let length = header
                headerSeen = 0
                header = 0
                if length > maxFrame {
                    failed = true
                    result.oversizeLength = length
                    result.echoCount = max(headerStart, 0)
                    if headerStart < 0 {
                        result.heldPrefixCount = 0
                    } else {
                        result.heldPrefixCount = held
                        result.heldPrefix = heldValue
                    }
                    return result
                }
                remaining = length
                if length == 0 {
                    framesCompleted += 1
                    result.framesCompleted += 1
                }
            }
        }
        // Release everything except an incomplete trailing header.
        let releasedEnd = headerSeen > 0 ? headerStart : n
        if releasedEnd > 0 || (held > 0 && headerSeen == 0) || (held > 0 && headerStart >= 0) {
            result.heldPrefixCount = held
            result.heldPrefix = heldValue
        }
        result.echoCount = max(releasedEnd, 0)
        return result
    }

    /// Writes the held prefix bytes into the `count` bytes just before `end`.
    public static func writeHeldPrefix(_ r: FrameScanResult, before end: UnsafeMutableRawPointer) {
        var v = r.heldPrefix
        var p = end
        for _ in 0..<r.heldPrefixCount {
            p -= 1
            p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
            v >>= 8
        }
    }
}

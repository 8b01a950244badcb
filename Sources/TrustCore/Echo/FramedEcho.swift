import Logging

/// Framed echo (4-byte big-endian length, then the payload): each valid frame
/// is echoed byte for byte, cut-through — the scanner only validates headers,
/// so a frame's echo is its own bytes as they arrive. A header declaring more
/// than `maxFrame` closes the connection (`frame_too_large`) and nothing of
/// that frame is echoed.
public struct FramedEcho: StreamHandler {
    public struct Session {
        var scanner: FrameScanner
    }

    public let maxFrame: UInt32

    public init(maxFrame: UInt32) {
        self.maxFrame = maxFrame
    }

    /// Up to 3 header bytes held from an earlier chunk are written in front
    /// of the chunk, so a frame whose header straddles two reads still goes
    /// out in one send.
    public static var prefixRoom: Int { FrameScanner.maxHeldPrefix }

    public var startFields: Logger.Metadata { ["mode": "framed", "max_frame": .stringConvertible(maxFrame)] }
    public var readyLabel: String { "mode framed" }

    public func makeSession() -> Session { Session(scanner: FrameScanner(maxFrame: maxFrame)) }

    @inline(__always)
    public func received(
        _ chunk: UnsafeMutableRawBufferPointer, session: inout Session, connection: inout StreamConnection
    ) {
        let result = session.scanner.scan(UnsafeRawBufferPointer(chunk))
        // Safe: the core keeps `prefixRoom` (= maxHeldPrefix) writable bytes
        // before every chunk, and a chunk is never empty.
        let start = result.copyHeldPrefix(endingAt: chunk.baseAddress!)
        let count = result.releasedByteCount
        if count > 0 && !connection.send(UnsafeRawBufferPointer(start: start, count: count)) { return }
        if result.framesCompleted > 0 {
            connection.countFrames(result.framesCompleted)
            if connection.isDebugLogging {
                connection.logger.debug(
                    "frame_echoed",
                    metadata: [
                        "request_id": "\(connection.requestID)", "peer": "\(connection.peer)",
                        "frames": .stringConvertible(result.framesCompleted),
                    ])
            }
        }
        if result.oversizeLength != nil { connection.close(.frameTooLarge) }
    }

    public func endOfInput(session: inout Session) -> CloseReason {
        session.scanner.isMidFrame ? .truncatedFrame : .peerClosed
    }

    public func describeClose(session: inout Session, reason: CloseReason, into metadata: inout Logger.Metadata) {
        if reason == .frameTooLarge, let declared = session.scanner.oversizeLength {
            metadata["declared_size"] = .stringConvertible(declared)
            metadata["max_frame"] = .stringConvertible(maxFrame)
        }
    }
}

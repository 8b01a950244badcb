/// Why a connection ended: the `reason` of its `connection_closed` line and
/// the label of the closed-connections metric.
///
/// A reason is a small code plus a static name, so a connection slot can hold
/// one as a byte (0 = no reason yet) and nothing is allocated to name it.
/// Codes below `firstProtocolCode` belong to the core; a protocol adds its own
/// from there on and lists them in `StreamHandler.closeReasons`.
public struct CloseReason: Sendable, Equatable, CustomStringConvertible {
    public let code: UInt8
    public let name: StaticString

    public init(code: UInt8, name: StaticString) {
        precondition(code != 0, "code 0 means 'no reason'")
        self.code = code
        self.name = name
    }

    public static func == (lhs: CloseReason, rhs: CloseReason) -> Bool { lhs.code == rhs.code }

    public var description: String { name.description }

    /// The first code a protocol may use for its own reasons.
    public static let firstProtocolCode: UInt8 = 32

    public static let peerClosed = CloseReason(code: 1, name: "peer_closed")
    public static let idleTimeout = CloseReason(code: 2, name: "idle_timeout")
    public static let sendTimeout = CloseReason(code: 3, name: "send_timeout")
    public static let reset = CloseReason(code: 4, name: "reset")
    public static let shutdown = CloseReason(code: 5, name: "shutdown")
    public static let error = CloseReason(code: 6, name: "error")
    /// Framing is part of the core (`Framing/`), so are its two ways to end.
    public static let frameTooLarge = CloseReason(code: 7, name: "frame_too_large")
    public static let truncatedFrame = CloseReason(code: 8, name: "truncated_frame")
    /// `--proxy-protocol`: a peer outside `--proxy-trusted`, a malformed
    /// header, or none within the header timeout.
    public static let proxyHeaderInvalid = CloseReason(code: 9, name: "proxy_header_invalid")
    /// TLS: the handshake failed, or did not complete within its timeout.
    public static let tlsHandshakeFailed = CloseReason(code: 10, name: "tls_handshake_failed")

    /// Every reason the core itself can give.
    public static let coreReasons: [CloseReason] = [
        .peerClosed, .idleTimeout, .sendTimeout, .reset, .shutdown, .error, .frameTooLarge, .truncatedFrame,
        .proxyHeaderInvalid, .tlsHandshakeFailed,
    ]
}

/// Code → reason for one service: the core's reasons and its handler's.
struct CloseReasonTable {
    private var byCode: [CloseReason?] = Array(repeating: nil, count: 256)

    init(protocolReasons: [CloseReason]) {
        for reason in CloseReason.coreReasons { byCode[Int(reason.code)] = reason }
        for reason in protocolReasons {
            precondition(reason.code >= CloseReason.firstProtocolCode, "protocol close reasons start at 32")
            byCode[Int(reason.code)] = reason
        }
    }

    subscript(code: UInt8) -> CloseReason { byCode[Int(code)] ?? .error }
}

/// `--transport tcp|udp|both` (SPEC §12): which sockets the server binds on
/// its host and port. `udp` binds no TCP listener; `both` binds the two on
/// the same host and port.
public enum ServiceTransport: String, Sendable, CaseIterable {
    case tcp
    case udp
    case both

    public var servesTCP: Bool { self != .udp }
    public var servesUDP: Bool { self != .tcp }

    /// As `server_started` names it: `tcp`, `udp` or `tcp,udp`.
    public var logName: String {
        switch self {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .both: return "tcp,udp"
        }
    }
}

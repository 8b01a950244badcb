/// Why a load-test round trip (or the connection it needed) failed.
public enum LoadFailureKind: String, Sendable, CaseIterable {
    /// The connection was refused or the host unreachable.
    case refused
    /// Reset by the peer, or a broken pipe.
    case reset
    /// A connect or a round trip took longer than `--timeout`.
    case timeout
    /// An echo differed from what was sent.
    case mismatch
    /// The server closed before the echo was complete.
    case closedEarly = "closed_early"
    /// Anything else (out of descriptors, out of ports...).
    case other

    /// The failure kind of an errno from connect.
    static func ofConnect(_ errno: Errno) -> LoadFailureKind {
        switch ErrorTable.exitStatus(for: errno) {
        case .unavailable: return errno == .addressNotAvailable ? .other : .refused
        case .temporaryFailure: return .timeout
        case .ioError: return .reset
        default: return .other
        }
    }

    /// The failure kind of an errno from send or recv.
    static func ofTransfer(_ errno: Errno) -> LoadFailureKind {
        switch ErrorTable.exitStatus(for: errno) {
        case .ioError: return .reset
        case .temporaryFailure: return .timeout
        case .unavailable: return .refused
        default: return .other
        }
    }
}

/// The first failure of a run: what the one stderr line says and which
/// exit code the run ends with (SPEC §5).
public struct LoadFailure: Sendable, Equatable {
    public var kind: LoadFailureKind
    public var message: String
    /// The errno behind it, if a system call failed.
    public var errno: Errno?

    public var exitStatus: ExitStatus {
        switch kind {
        case .refused: return .unavailable
        case .reset, .closedEarly: return .ioError
        case .timeout: return .temporaryFailure
        case .mismatch: return .dataError
        case .other: return errno.map(ErrorTable.exitStatus(for:)) ?? .osError
        }
    }
}

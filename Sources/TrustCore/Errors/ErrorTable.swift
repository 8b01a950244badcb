#if canImport(Glibc)
    import Glibc
#endif

/// The one table that says what an errno means to trustctl: the exit code
/// a command ends with, and what the server does with a connection or the
/// accept loop when a call fails with it.
public enum ErrorTable {
    /// What the event loop does after a failed call on a connection.
    public enum ConnectionAction: Sendable, Equatable {
        /// Nothing is wrong: try again when the loop says the socket is ready.
        case retry
        /// Close the connection; log `connection_closed` with this reason.
        case close(reason: String)
    }

    /// What the accept loop does after a failed `accept`.
    public enum AcceptAction: Sendable, Equatable {
        /// Nothing more is pending, or a transient error: wait for readiness.
        case wait
        /// The client went away before it was accepted: accept the next one.
        case skip
        /// Out of descriptors or kernel memory: shed the pending connection,
        /// log `accept_paused`, and stop accepting for a short while.
        case pause
    }

    public static func exitStatus(for errno: Errno) -> ExitStatus {
        // Every resolver failure, a temporary one (EAI_AGAIN: no resolver
        // reachable) included, is "host unknown": the name could not be
        // turned into an address, and the message carries the resolver's
        // reason (docs/cnetshim.md, "Name lookup errors").
        if errno.isResolverError { return .hostUnknown }
        switch errno.rawValue {
        case ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN, EADDRINUSE, EADDRNOTAVAIL:
            return .unavailable
        case ECONNRESET, EPIPE, ECONNABORTED, ENOTCONN, ESHUTDOWN, EIO:
            return .ioError
        case ETIMEDOUT, EAGAIN:
            return .temporaryFailure
        case EACCES, EPERM:
            return .permissionDenied
        default:
            return .osError
        }
    }

    public static func connectionAction(for errno: Errno) -> ConnectionAction {
        switch errno.rawValue {
        case EAGAIN, EINTR:
            return .retry
        case ECONNRESET, ECONNABORTED, EPIPE, ENOTCONN, ESHUTDOWN, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH:
            return .close(reason: "reset")
        default:
            return .close(reason: "error")
        }
    }

    public static func acceptAction(for errno: Errno) -> AcceptAction {
        switch errno.rawValue {
        case EAGAIN, EINTR:
            return .wait
        case ECONNABORTED, EPROTO, EPERM:
            return .skip
        case EMFILE, ENFILE, ENOBUFS, ENOMEM:
            return .pause
        default:
            return .wait
        }
    }
}

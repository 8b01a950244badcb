/// The one error type of TrustCore. It carries what the CLI needs to print
/// one clear line and pick the exit code, and what a log line needs
/// (the errno's symbolic name and the failed operation).
public struct TrustError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A failed system call.
        case system
        /// A bad command line (exit 64).
        case usage
        /// A bad config file, or a bad value from the environment or file (78).
        case config
        /// `TRUST_HOME` or a log file cannot be created (73).
        case cannotCreate
        /// An echo differed from what was sent (65).
        case dataMismatch
        /// The peer closed before an exchange completed (74).
        case closedEarly
        /// A bug (70).
        case `internal`
        /// A facility this machine does not offer, e.g. `--io io_uring` where
        /// the kernel refuses it (69).
        case unavailable
        /// Stopped by a signal before finishing (exit 128 + signal).
        case interrupted
    }

    public let kind: Kind
    /// The errno of a failed system call, if any.
    public let errno: Errno?
    /// What was being done, e.g. `"bind 0.0.0.0:80"`.
    public let operation: String?
    /// The one line the user reads.
    public let message: String

    /// The signal that ended the command, for `.interrupted`.
    public let signal: Int32?

    public init(kind: Kind, message: String, errno: Errno? = nil, operation: String? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
        self.operation = operation
        self.signal = nil
    }

    private init(interruptedBy signal: Int32, message: String) {
        self.kind = .interrupted
        self.message = message
        self.errno = nil
        self.operation = nil
        self.signal = signal
    }

    /// Stopped by a signal: the process exits 128 + signal, the shell's
    /// convention for "terminated by a signal".
    public static func interrupted(signal: Int32, message: String) -> TrustError {
        TrustError(interruptedBy: signal, message: message)
    }

    /// The process exit code: the sysexits code, or 128 + signal.
    public var exitCode: Int32 {
        if kind == .interrupted, let signal { return 128 + signal }
        return exitStatus.rawValue
    }

    public static func system(_ errno: Errno, operation: String) -> TrustError {
        TrustError(kind: .system, message: "\(operation): \(errno.description)", errno: errno, operation: operation)
    }

    public static func usage(_ message: String) -> TrustError { TrustError(kind: .usage, message: message) }
    public static func config(_ message: String) -> TrustError { TrustError(kind: .config, message: message) }

    public var description: String { message }

    /// The exit code for this error: one table, SPEC §5.
    public var exitStatus: ExitStatus {
        switch kind {
        case .usage: return .usage
        case .config: return .config
        case .cannotCreate: return .cannotCreate
        case .dataMismatch: return .dataError
        case .closedEarly: return .ioError
        case .internal: return .software
        case .unavailable: return .unavailable
        case .interrupted: return .temporaryFailure
        case .system: return errno.map(ErrorTable.exitStatus(for:)) ?? .osError
        }
    }
}

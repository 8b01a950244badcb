/// Process exit codes, from sysexits(3). SPEC §5 is the contract.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    /// Unknown command or flag, missing or malformed argument.
    case usage = 64
    /// An echo came back different from what was sent.
    case dataError = 65
    /// A host name that does not resolve (with the resolver's reason).
    case hostUnknown = 68
    /// Connection refused or unreachable; address already in use.
    case unavailable = 69
    /// A bug. Never a crash without a message.
    case software = 70
    /// Another failing system call.
    case osError = 71
    /// `TRUST_HOME` or the log file cannot be created.
    case cannotCreate = 73
    /// Connection reset, peer closed before the echo completed, broken pipe.
    case ioError = 74
    /// A timeout expired.
    case temporaryFailure = 75
    /// Binding a privileged port without the right.
    case permissionDenied = 77
    /// Malformed config file, or a bad value from the environment or file.
    case config = 78
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// Signals delivered as readable events on a signalfd instead of to a
/// handler: nothing runs inside a signal handler, and the thread that reads
/// them decides what they mean.
///
/// Ctrl-C must work at every moment, so the signals are blocked (and
/// queued for the signalfd) only in `activate()`, which the coordinator
/// calls just before it starts reading them; until then they keep their
/// default action and end the process. Every thread started through
/// `LoopThread` (and the log writer) blocks them from birth, so once the
/// main thread blocks them too, only the signalfd sees them.
public final class SignalEvents {
    public let signals: [Int32]
    /// The signalfd; -1 until `activate()`.
    public private(set) var fd: Int32 = -1

    public init(_ signals: [Int32]) {
        self.signals = signals
        _ = cnet_ignore_sigpipe()
    }

    deinit { if fd >= 0 { _ = cnet_close(fd) } }

    /// Block the signals in the calling thread and open the signalfd that
    /// delivers them (signals that arrive from now on wait in it).
    public func activate() throws(TrustError) {
        guard fd < 0 else { return }
        let rc = signals.withUnsafeBufferPointer { cnet_signalfd_open($0.baseAddress, Int32($0.count)) }
        fd = try Errno.check(rc, "signalfd")
    }

    /// The next pending signal, or nil if none is pending.
    public func next() -> Int32? {
        guard fd >= 0 else { return nil }
        let signo = cnet_signalfd_read(fd)
        return signo > 0 ? signo : nil
    }

    /// The signals a coordinator reads; blocked in every helper thread.
    public static let termination: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Runs `body` (which starts a thread) with the termination signals
    /// blocked, so the new thread inherits a mask that never takes them;
    /// the caller's mask is restored afterwards.
    public static func withTerminationSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signo in termination { sigaddset(&blocked, signo) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }
}

extension SignalEvents {
    /// "SIGINT", for log lines.
    public static func name(_ signo: Int32) -> String {
        switch signo {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signo)"
        }
    }
}

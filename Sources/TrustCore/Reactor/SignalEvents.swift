import CNetShim

/// Signals delivered as readable events on a signalfd instead of to a
/// handler: nothing runs inside a signal handler, and the thread that reads
/// them decides what they mean.
///
/// Create it before any other thread: the signals are blocked in the
/// creating thread, and only threads started afterwards inherit that mask.
public final class SignalEvents {
    public let fd: Int32

    public init(_ signals: [Int32]) throws(TrustError) {
        let rc = signals.withUnsafeBufferPointer { cnet_signalfd_open($0.baseAddress, Int32($0.count)) }
        fd = try Errno.check(rc, "signalfd")
        _ = cnet_ignore_sigpipe()
    }

    deinit { _ = cnet_close(fd) }

    /// The next pending signal, or nil if none is pending.
    public func next() -> Int32? {
        let signo = cnet_signalfd_read(fd)
        return signo > 0 ? signo : nil
    }
}

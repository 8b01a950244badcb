import CNetShim

/// Which kernel interface a loop drives its sockets with (SPEC §18).
public enum IOBackend: String, Sendable, CaseIterable {
    case epoll
    case ioUring = "io_uring"
}

/// What the user asked for: `--io auto|epoll|io_uring`.
public enum IOSelection: String, Sendable, CaseIterable {
    case auto
    case epoll
    case ioUring = "io_uring"

    /// The backend this process will use. `auto` takes io_uring when the
    /// kernel lets this process use it (probed once: the sysctl, seccomp,
    /// memlock, missing features) and epoll otherwise, silently; an explicit
    /// `io_uring` that cannot start is an unavailable error (69) saying why.
    public func resolve() throws(TrustError) -> IOBackend {
        switch self {
        case .epoll:
            return .epoll
        case .auto:
            return UringSupport.probe().error == nil ? .ioUring : .epoll
        case .ioUring:
            let support = UringSupport.probe()
            if let error = support.error {
                throw TrustError(
                    kind: .unavailable, message: "io_uring is not available: \(support.reason)", errno: error,
                    operation: "io_uring_setup")
            }
            return .ioUring
        }
    }
}

/// The result of `cnet_uring_probe`, read once per process.
struct UringSupport: Sendable {
    let error: Errno?
    let reason: String

    static func probe() -> UringSupport { cached }

    private static let cached: UringSupport = {
        var support = cnet_uring_support()
        let rc = cnet_uring_probe(&support)
        let reason = String(cString: cnet_uring_support_reason(&support))
        return UringSupport(error: rc < 0 ? Errno(rawValue: rc) : nil, reason: reason)
    }()
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// A typed POSIX error number, after swift-system's `Errno`: no magic ints.
///
/// CNetShim returns `-errno`; `Errno.check` turns that convention into a
/// Swift value or a thrown `TrustError` naming the failed operation.
/// A failed name lookup comes back from CNetShim as a resolver error
/// (`CNET_GAI_ERROR`, outside the errno range); it travels in the same type
/// so that one value reaches logs and the exit-code table, and
/// `isResolverError` tells the two apart.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue < 0 ? -rawValue : rawValue
    }

    /// The symbolic name used in structured logs, e.g. `"ECONNRESET"`, or
    /// `"EAI_NONAME"` for a resolver error.
    public var name: String { String(cString: cnet_errno_name(rawValue)) }

    /// The C library's human description, e.g. "Connection reset by peer";
    /// for a resolver error, getaddrinfo's own ("Name or service not known").
    public var message: String {
        if isResolverError { return String(cString: cnet_gai_strerror(rawValue)) }
        return String(cString: strerror(rawValue))
    }

    /// True for a getaddrinfo failure (EAI_NONAME, EAI_AGAIN ...), false for an errno.
    public var isResolverError: Bool { cnet_is_gai_error(rawValue) != 0 }

    public var description: String { "\(name): \(message)" }

    /// Interpret a CNetShim return value (Errno.init drops the sign): `>= 0` is a value, `< 0` is `-errno`.
    @inlinable
    public static func check<T: BinaryInteger>(_ result: T, _ operation: String) throws(TrustError) -> T {
        if result < 0 {
            throw TrustError.system(Errno(rawValue: Int32(truncatingIfNeeded: result)), operation: operation)
        }
        return result
    }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    public static let connectionAborted = Errno(rawValue: ECONNABORTED)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    public static let tooManyOpenFilesInSystem = Errno(rawValue: ENFILE)
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)
    public static let noMemory = Errno(rawValue: ENOMEM)
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let notPermitted = Errno(rawValue: EPERM)
    public static let networkUnreachable = Errno(rawValue: ENETUNREACH)
    public static let hostUnreachable = Errno(rawValue: EHOSTUNREACH)
    public static let notConnected = Errno(rawValue: ENOTCONN)
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// A listening TCP socket handed over by a supervisor (systemd socket activation, SPEC §15).
public struct InheritedListener: Sendable, Hashable {
    public let descriptor: Int32
    /// Its name from `LISTEN_FDNAMES` (systemd's `FileDescriptorName=`, default the socket
    /// unit's name), nil when the variable is absent.
    public let name: String?
    /// The address it is bound to, for `server_started`.
    public let localAddress: IPEndpoint

    public init(descriptor: Int32, name: String?, localAddress: IPEndpoint) {
        self.descriptor = descriptor
        self.name = name
        self.localAddress = localAddress
    }
}

/// Reads systemd's socket-activation variables with `sd_listen_fds(unset=1)` semantics:
/// descriptors start at 3 (`SD_LISTEN_FDS_START`), `LISTEN_PID` must be this process (else
/// the variables were meant for a parent and are ignored), and the variables are removed
/// after reading so that no child inherits them. Each descriptor must be a listening TCP
/// socket over IPv4 or IPv6; anything else is a config error (exit 78) naming the descriptor.
public enum InheritedListeners {
    /// `SD_LISTEN_FDS_START`.
    public static let firstDescriptor: Int32 = 3
    /// More descriptors than this in `LISTEN_FDS` is taken for a bad value, not a request.
    public static let maximumCount = 4096

    public static let variableNames = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// The inherited listeners, or nil when the process was not socket-activated. Reads the
    /// process environment and unsets the variables; call it early in `main`, before any
    /// thread starts (setenv/unsetenv are not thread-safe). Each returned descriptor is
    /// made non-blocking and close-on-exec.
    public static func takeFromEnvironment() throws(TrustError) -> [InheritedListener]? {
        var environment: [String: String] = [:]
        for name in variableNames {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        guard !environment.isEmpty else { return nil }
        for name in variableNames { unsetenv(name) }
        guard let slots = try descriptors(environment: environment, processID: getpid()) else { return nil }
        return try slots.map { (descriptor, name) throws(TrustError) in try validate(descriptor: descriptor, name: name)
        }
    }

    /// The descriptors and names the variables announce, or nil when they are absent, name
    /// another process, or announce none. Pure: it touches no descriptor.
    public static func descriptors(environment: [String: String], processID: Int32) throws(TrustError)
        -> [(descriptor: Int32, name: String?)]?
    {
        guard let pidText = environment["LISTEN_PID"], let countText = environment["LISTEN_FDS"] else {
            return nil
        }
        guard let pid = Int32(exactly: decimal(pidText) ?? -1), pid > 0 else {
            throw .config("LISTEN_PID is '\(pidText)', expected a process ID")
        }
        guard pid == processID else { return nil }
        guard let count = decimal(countText), count <= maximumCount else {
            throw .config("LISTEN_FDS is '\(countText)', expected a number of descriptors (0 to \(maximumCount))")
        }
        guard count > 0 else { return nil }
        var names: [String?] = Array(repeating: nil, count: count)
        if let namesText = environment["LISTEN_FDNAMES"] {
            let parts = namesText.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == count else {
                throw .config(
                    "LISTEN_FDNAMES has \(parts.count) name\(parts.count == 1 ? "" : "s") but LISTEN_FDS is \(count)")
            }
            names = parts
        }
        return (0..<count).map { (firstDescriptor + Int32($0), names[$0]) }
    }

    /// Checks that `descriptor` is an open, listening TCP socket over IPv4 or IPv6, makes it
    /// non-blocking and close-on-exec, and reads its local address.
    public static func validate(descriptor: Int32, name: String?) throws(TrustError) -> InheritedListener {
        let label = name.map { "inherited descriptor \(descriptor) ('\($0)')" } ?? "inherited descriptor \(descriptor)"
        guard fcntl(descriptor, F_GETFD) >= 0 else { throw .config("\(label) is not open") }
        guard let type = socketOption(descriptor, SO_TYPE) else { throw .config("\(label) is not a socket") }
        let domain = socketOption(descriptor, SO_DOMAIN) ?? -1
        guard domain == AF_INET || domain == AF_INET6 else {
            throw .config("\(label) is not an IPv4 or IPv6 socket (\(familyName(domain)))")
        }
        guard type == Int32(SOCK_STREAM.rawValue), socketOption(descriptor, SO_PROTOCOL) == Int32(IPPROTO_TCP) else {
            throw .config("\(label) is not a TCP socket")
        }
        guard socketOption(descriptor, SO_ACCEPTCONN) == 1 else { throw .config("\(label) is not listening") }
        guard cnet_set_nonblocking(descriptor, 1) == 0, cnet_set_cloexec(descriptor, 1) == 0 else {
            throw .config("\(label) cannot be made non-blocking and close-on-exec")
        }
        guard let address = localAddress(descriptor) else {
            throw .config("\(label) has no IPv4 or IPv6 local address")
        }
        return InheritedListener(descriptor: descriptor, name: name, localAddress: address)
    }

    // MARK: helpers

    /// A plain decimal number (digits only, as systemd writes them).
    private static func decimal(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text)
    }

    /// An integer SOL_SOCKET option, nil when getsockopt fails (ENOTSOCK for a non-socket).
    private static func socketOption(_ descriptor: Int32, _ option: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, option, &value, &length) == 0 ? value : nil
    }

    private static func localAddress(_ descriptor: Int32) -> IPEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) { raw in
            // Safe: getsockname writes at most `length` bytes, the size of the storage.
            getsockname(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard result == 0 else { return nil }
        return IPEndpoint(socketAddress: storage)
    }

    private static func familyName(_ domain: Int32) -> String {
        switch domain {
        case AF_UNIX: return "AF_UNIX"
        case AF_NETLINK: return "AF_NETLINK"
        case AF_PACKET: return "AF_PACKET"
        default: return "family \(domain)"
        }
    }
}

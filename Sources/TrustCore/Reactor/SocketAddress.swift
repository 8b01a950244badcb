import CNetShim

/// Resolving and naming TCP endpoints, the same way for every command.
enum SocketAddress {
    /// `host:port`, with brackets around an IPv6 literal: `[::1]:9900`.
    static func display(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Resolves `host` for connecting (name, IPv4 or IPv6 literal). An
    /// unresolvable name is exit 69 (unavailable) through `ErrorTable`.
    static func resolve(host: String, port: UInt16) throws(TrustError) -> (sockaddr_storage, socklen_t) {
        var address = sockaddr_storage()
        var length = socklen_t(0)
        let resolved = cnet_resolve(host, port, 0, &address, &length)
        if resolved < 0 {
            let errno = Errno(rawValue: resolved)
            throw TrustError(
                kind: .system, message: "cannot resolve host '\(host)' (\(errno.name))", errno: errno,
                operation: "resolve")
        }
        return (address, length)
    }
}

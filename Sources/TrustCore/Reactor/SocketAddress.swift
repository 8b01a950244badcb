import CNetShim

/// Resolving, naming, connecting to and listening on TCP endpoints, the
/// same way for every command.
///
/// A name that does not resolve is a resolver error (`Errno.isResolverError`,
/// exit 68) with getaddrinfo's own reason; a name may resolve to several
/// addresses (stock Debian lists `::1 localhost` before `127.0.0.1
/// localhost`), and connecting tries them all (`connect`).
enum SocketAddress {
    /// `host:port`, with brackets around an IPv6 literal: `[::1]:9900`.
    static func display(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Every address `host` resolves to, in getaddrinfo's order (at most
    /// `CNET_MAX_ADDRESSES`, never empty).
    /// - Parameters:
    ///   - passive: resolve for binding (a listening socket).
    ///   - portSetting: where this command takes the port (`--port`, `the
    ///     PORT argument`), named in the hint when `host` carries a port.
    static func resolveAll(
        host: String, port: UInt16, passive: Bool = false, portSetting: String = "--port"
    ) throws(TrustError) -> [cnet_address] {
        var addresses = [cnet_address](repeating: cnet_address(), count: Int(CNET_MAX_ADDRESSES))
        let count = resolveAll(host, port, passive: passive, into: &addresses)
        if count < 0 { throw resolveFailure(host: host, code: count, portSetting: portSetting) }
        return Array(addresses.prefix(Int(count)))
    }

    /// `cnet_resolve_all` into `addresses`: the buffer pointer is valid for
    /// the call and its real count is passed as the maximum, so the C side
    /// never writes past it.
    private static func resolveAll(
        _ host: String, _ port: UInt16, passive: Bool, into addresses: inout [cnet_address]
    ) -> Int32 {
        addresses.withUnsafeMutableBufferPointer {
            cnet_resolve_all(host, port, passive ? 1 : 0, $0.baseAddress, Int32($0.count))
        }
    }

    /// The error for a failed lookup of `host`: getaddrinfo's reason, and a
    /// hint when the user wrote the port into the host.
    static func resolveFailure(host: String, code: Int32, portSetting: String) -> TrustError {
        let errno = Errno(rawValue: code)
        var message = "cannot resolve host '\(host)': \(errno.message) (\(errno.name))"
        if let hint = portHint(host: host, portSetting: portSetting) { message += "; \(hint)" }
        return TrustError(kind: .system, message: message, errno: errno, operation: "resolve")
    }

    /// What to say when `host` looks like `127.0.0.1:80`, `localhost:9900`
    /// or `[::1]:80`. Only asked after the lookup failed, so a real IPv6
    /// literal (which resolves) never gets it.
    static func portHint(host: String, portSetting: String) -> String? {
        if host.contains("[") || host.contains("]") {
            if host.contains("]:") { return "write an IPv6 address without brackets, and the port in \(portSetting)" }
            return "write an IPv6 address without brackets"
        }
        if host.filter({ $0 == ":" }).count == 1 { return "the port goes in \(portSetting), not in the host" }
        return nil
    }

    /// Connects to the first of `addresses` that answers, RFC 8305 style
    /// (IPv6 first, families interleaved, the next attempt 250 ms after the
    /// last or as soon as it fails; see `cnet_tcp_connect_list`), within
    /// `timeoutMs` in all. Returns the blocking descriptor (unless `flags`
    /// holds `CNET_NONBLOCK`) and the index of the address that connected,
    /// or `-errno` of the last failure and nil.
    static func connect(_ addresses: [cnet_address], timeoutMs: Int32, flags: Int32 = 0) -> (fd: Int32, chosen: Int?) {
        var chosen: Int32 = -1
        let fd = connectList(addresses, timeoutMs: timeoutMs, flags: flags, chosen: &chosen)
        return (fd, fd >= 0 && chosen >= 0 ? Int(chosen) : nil)
    }

    /// `cnet_tcp_connect_list` over an array: the buffer pointer is valid
    /// for the call and its real count is passed, so the C side reads only
    /// initialised entries.
    private static func connectList(
        _ addresses: [cnet_address], timeoutMs: Int32, flags: Int32, chosen: inout Int32
    ) -> Int32 {
        addresses.withUnsafeBufferPointer {
            cnet_tcp_connect_list($0.baseAddress, Int32($0.count), timeoutMs, flags, &chosen)
        }
    }

    /// The one address the load tester opens all its connections to. A
    /// name with a single address is used as it is; with several, one
    /// connection is made once, before the run, with the same happy-eyeballs
    /// logic as `connect`, and the address that accepted it is used (the
    /// probe is closed at once). If none accepts, the first address is used
    /// and the run counts its failures by kind as for any unreachable server.
    static func firstReachable(
        host: String, port: UInt16, timeoutMs: Int32
    ) throws(TrustError) -> (sockaddr_storage, socklen_t) {
        let addresses = try resolveAll(host: host, port: port)
        var use = addresses[0]
        if addresses.count > 1 {
            let probe = connect(addresses, timeoutMs: timeoutMs)
            if probe.fd >= 0 { _ = cnet_close(probe.fd) }
            if let chosen = probe.chosen { use = addresses[chosen] }
        }
        return (use.addr, use.len)
    }

    /// A listening socket on `host` (resolved for binding: the first
    /// address) and the port it is bound to.
    static func listen(host: String, port: UInt16, backlog: Int32, flags: Int32) throws(TrustError) -> (
        fd: Int32, port: UInt16
    ) {
        var address = try resolveAll(host: host, port: port, passive: true)[0]
        var bound: UInt16 = 0
        let fd = listen(on: &address, backlog: backlog, flags: flags, bound: &bound)
        if fd < 0 {
            throw TrustError.system(
                Errno(rawValue: fd), operation: "cannot listen on \(display(host: host, port: port))")
        }
        return (fd, bound)
    }

    /// `cnet_tcp_listen` takes a generic sockaddr: the storage outlives the
    /// call and `len` is what the resolver wrote for it, so viewing it as a
    /// sockaddr is safe.
    private static func listen(
        on address: inout cnet_address, backlog: Int32, flags: Int32, bound: inout UInt16
    ) -> Int32 {
        let length = address.len
        return withUnsafePointer(to: &address.addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                cnet_tcp_listen($0, length, backlog, flags, &bound)
            }
        }
    }
}

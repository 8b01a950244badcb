import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// What a connection does besides round trips: the PROXY header it may
/// begin with (`--proxy-protocol`), and `--reconnect`, which treats the
/// server ending a connection before answering as a reason to connect
/// again rather than a failure.
extension LoadTestEngine {
    /// Consecutive reconnects of one slot without a verified round trip
    /// before the next end counts as a failure after all.
    static let reconnectLimit: UInt8 = 3

    /// Writes the header on a just-connected socket; false (and the slot
    /// failed) when the kernel did not take it whole, which a fresh
    /// socket's empty send buffer always does for ≤ 232 bytes.
    func sendProxyHeader(_ s: Int, _ version: LoadTestOptions.ProxyHeader) -> Bool {
        let fd = slots[s].fd
        guard let source = LoadTestEngine.localEndpoint(fd), let destination = target else {
            fail(s, .other, "no IPv4 or IPv6 address to put in the PROXY header")
            return false
        }
        let header =
            version == .v1
            ? ProxyHeaderEncoder.v1(source: source, destination: destination)
            : ProxyHeaderEncoder.v2(source: source, destination: destination)
        let n = header.withUnsafeBytes { cnet_send(fd, $0.baseAddress, $0.count) }
        guard n == header.count else {
            let errno = n < 0 ? Errno(rawValue: Int32(truncatingIfNeeded: n)) : nil
            fail(s, errno.map(LoadFailureKind.ofTransfer) ?? .other, "could not send the PROXY header", errno: errno)
            return false
        }
        tally.bytesSent &+= UInt64(n)
        return true
    }

    /// The server closed or reset the connection. With --reconnect, when
    /// no byte of an answer had arrived (the request, if one was out, may
    /// never have reached a handler: echo is idempotent, so it is sent
    /// again), the slot connects again and its session goes on; otherwise
    /// it is the failure it always was.
    func serverEnded(_ s: Int, _ kind: LoadFailureKind, _ message: String, errno: Errno? = nil) {
        guard options.reconnect, !stopping, slots[s].received == 0,
            slots[s].reconnects < LoadTestEngine.reconnectLimit
        else {
            fail(s, kind, message, errno: errno)
            return
        }
        slots[s].reconnects += 1
        tally.reconnects += 1
        if slots[s].phase == .inFlight { tally.resent += 1 }
        close(s)
        connect(s)
    }

    /// Safe: getsockname writes at most `length` bytes, the size of the
    /// storage it is given.
    static func localEndpoint(_ fd: Int32) -> IPEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return rc == 0 ? IPEndpoint(socketAddress: storage) : nil
    }
}

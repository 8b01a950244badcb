import CNetShim

/// Binding the UDP echo's socket (docs/udp.md).
///
/// One socket for the service, not one per worker with SO_REUSEPORT: with
/// SO_REUSEPORT a second server started on the same port by the same user
/// would silently take a share of the datagrams instead of failing with
/// "address in use" (the TCP listener makes the same choice), and a single
/// socket keeps one token bucket per source exact. The batching
/// (`recvmmsg`/`sendmmsg`, 32 datagrams per call) is what carries the load.
enum DatagramSocket {
    /// The socket (non-blocking, pktinfo on) and the port it is bound to.
    static func bind(host: String, port: UInt16) throws(TrustError) -> (fd: Int32, port: UInt16) {
        var address = try SocketAddress.resolveAll(host: host, port: port, passive: true)[0]
        var bound: UInt16 = 0
        let fd = bind(on: &address, bound: &bound)
        if fd < 0 {
            throw TrustError.system(
                Errno(rawValue: fd), operation: "cannot bind UDP on \(SocketAddress.display(host: host, port: port))")
        }
        // Room for bursts: the kernel caps this at net.core.rmem_max.
        _ = cnet_set_recv_buffer(fd, 4 << 20)
        return (fd, bound)
    }

    /// `cnet_udp_bind` takes a generic sockaddr: the storage outlives the
    /// call and `len` is what the resolver wrote for it, so viewing it as a
    /// sockaddr is safe.
    private static func bind(on address: inout cnet_address, bound: inout UInt16) -> Int32 {
        let length = address.len
        return withUnsafePointer(to: &address.addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                cnet_udp_bind($0, length, CNET_NONBLOCK, &bound)
            }
        }
    }
}

import CNetShim
import Foundation
import Glibc

/// Loopback endpoints with a known way of answering a connect, for the
/// happy-eyeballs tests: one that accepts, one that refuses at once, and one
/// that never answers.
final class TestEndpoint {
    /// Descriptors to close at the end (listener, queue filler, bound socket).
    private var descriptors: [Int32] = []
    let address: cnet_address
    /// The listener, for endpoints that accept.
    let listener: Int32?

    private init(address: cnet_address, listener: Int32?, descriptors: [Int32]) {
        self.address = address
        self.listener = listener
        self.descriptors = descriptors
    }

    deinit { close() }

    func close() {
        for fd in descriptors { _ = cnet_close(fd) }
        descriptors = []
    }

    /// A listener on host port 0 that accepts connections.
    static func accepting(_ host: String) throws -> TestEndpoint {
        var port: UInt16 = 0
        let fd = try ShimFailure.check(cnet_tcp_listen_host(host, 0, 16, 0, &port), "listen \(host)")
        return TestEndpoint(address: try shimAddress(host, port), listener: fd, descriptors: [fd])
    }

    /// A socket bound to host port 0 but not listening: a connect to it is
    /// answered with a reset (ECONNREFUSED), and no other test can take the
    /// port while it is bound.
    static func refusing(_ host: String) throws -> TestEndpoint {
        let any = try ResolvedAddress.resolve(host, port: 0, passive: true)
        let fd = socket(Int32(any.storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw ShimFailure(operation: "socket", code: Int(-errno)) }
        if any.withSockaddr({ bind(fd, $0, $1) }) < 0 {
            let code = -errno
            Glibc.close(fd)
            throw ShimFailure(operation: "bind \(host)", code: Int(code))
        }
        let port = UInt16(try ShimFailure.check(cnet_local_port(fd), "cnet_local_port"))
        return TestEndpoint(address: try shimAddress(host, port), listener: nil, descriptors: [fd])
    }

    /// A listener with backlog 0 whose accept queue is already full (one
    /// connection waits in it, never accepted): the kernel drops further
    /// SYNs, so a connect to it stays unanswered for seconds.
    static func unanswering(_ host: String) throws -> TestEndpoint {
        var port: UInt16 = 0
        let fd = try ShimFailure.check(cnet_tcp_listen_host(host, 0, 0, 0, &port), "listen \(host)")
        let filler = cnet_tcp_connect_host(host, port, LoopbackPair.safetyTimeoutMilliseconds, 0)
        if filler < 0 {
            _ = cnet_close(fd)
            throw ShimFailure(operation: "fill the accept queue", code: Int(filler))
        }
        return TestEndpoint(address: try shimAddress(host, port), listener: nil, descriptors: [fd, filler])
    }

    /// An entry whose family no socket supports: cnet_connect_start fails at once.
    static func unsupportedFamily() -> cnet_address {
        var address = cnet_address()
        address.addr.ss_family = sa_family_t(AF_UNSPEC)
        address.len = socklen_t(MemoryLayout<sockaddr_in>.size)
        return address
    }

    static func shimAddress(_ host: String, _ port: UInt16) throws -> cnet_address {
        let resolved = try ResolvedAddress.resolve(host, port: port)
        var address = cnet_address()
        address.addr = resolved.storage
        address.len = resolved.length
        return address
    }

    /// Accepts the connection that just arrived (bounded wait) and checks a
    /// byte goes each way over it and the client descriptor.
    func acceptAndExchange(client: Int32) throws {
        guard let listener else {
            throw ShimFailure(operation: "accept on an endpoint that does not listen", code: Int(-EINVAL))
        }
        let accepted = try ResolvedAddress.acceptPending(on: listener)
        let pair = LoopbackPair(client: client, server: accepted.fd, port: 0)
        defer { pair.closeServer() }
        try ShimFailure.check(cnet_set_nonblocking(pair.server, 0), "cnet_set_nonblocking")
        try pair.applySafetyTimeouts()
        guard ShimIO.sendAll(pair.client, [7]).result == 1, ShimIO.recvAll(pair.server, count: 1).bytes == [7],
            ShimIO.sendAll(pair.server, [9]).result == 1, ShimIO.recvAll(pair.client, count: 1).bytes == [9]
        else { throw ShimFailure(operation: "exchange over the chosen connection", code: Int(-EIO)) }
    }
}

/// cnet_tcp_connect_list over an array: the descriptor (or -errno) and the
/// chosen index (-1 when none).
enum ShimConnect {
    static func list(_ addresses: [cnet_address], timeoutMilliseconds: Int32, flags: Int32 = 0) -> (
        fd: Int32, chosen: Int32
    ) {
        var chosen: Int32 = -1
        // Safe: the pointer lives only for the call and the real count is passed.
        let fd = addresses.withUnsafeBufferPointer {
            cnet_tcp_connect_list($0.baseAddress, Int32($0.count), timeoutMilliseconds, flags, &chosen)
        }
        return (fd, chosen)
    }
}

/// Sockets this process holds open: entries of /proc/self/fd that link to
/// `socket:[...]`. Only sockets, because the test runtime may open other
/// descriptors (pipes, eventfds) on threads of its own at any moment.
func openSocketCount() -> Int {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.filter {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)"))?.hasPrefix("socket:")
            ?? false
    }.count
}

import CNetShim
import Glibc

/// Two connected stream sockets for a test: `client` and `server` ends, both
/// blocking, both with a safety receive and send timeout so that no test
/// can hang even when the code under test is broken.
/// Each end is closed at most once: a second close could hit a descriptor
/// number the test process has already reused.
final class LoopbackPair {
    static let safetyTimeoutMilliseconds: Int32 = 10_000

    let client: Int32
    let server: Int32
    /// The TCP port the server end is bound to (0 for a socketpair).
    let port: UInt16
    private var clientOpen = true
    private var serverOpen = true

    init(client: Int32, server: Int32, port: UInt16) {
        self.client = client
        self.server = server
        self.port = port
    }

    deinit { close() }

    /// A TCP connection over loopback: listen on host port 0, connect, accept.
    static func tcp(host: String = "127.0.0.1") throws -> LoopbackPair {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(
            cnet_tcp_listen_host(host, 0, 16, 0, &port), "cnet_tcp_listen_host(\(host))")
        defer { _ = cnet_close(listener) }
        let client = try ShimFailure.check(
            cnet_tcp_connect_host(host, port, safetyTimeoutMilliseconds, 0), "cnet_tcp_connect_host")
        do {
            try waitReadable(listener, milliseconds: safetyTimeoutMilliseconds)
            let server = try ShimFailure.check(cnet_accept(listener, nil, nil), "cnet_accept")
            let pair = LoopbackPair(client: client, server: server, port: port)
            do {
                try ShimFailure.check(cnet_set_nonblocking(server, 0), "cnet_set_nonblocking")
                try pair.applySafetyTimeouts()
            } catch {
                pair.close()
                throw error
            }
            return pair
        } catch {
            _ = cnet_close(client)
            throw error
        }
    }

    /// An AF_UNIX socketpair: no TCP windows or delayed ACKs in the way,
    /// so buffer-full behaviour is immediate and deterministic.
    static func unix() throws -> LoopbackPair {
        var fds: [Int32] = [-1, -1]
        // Safe: socketpair writes exactly two descriptors into the 2-element array.
        let rc = fds.withUnsafeMutableBufferPointer {
            socketpair(
                AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, $0.baseAddress)
        }
        if rc < 0 { throw ShimFailure(operation: "socketpair", code: Int(-errno)) }
        let pair = LoopbackPair(client: fds[0], server: fds[1], port: 0)
        do {
            try pair.applySafetyTimeouts()
        } catch {
            pair.close()
            throw error
        }
        return pair
    }

    func applySafetyTimeouts() throws {
        for fd in [client, server] {
            try ShimFailure.check(
                cnet_set_recv_timeout(fd, Self.safetyTimeoutMilliseconds), "cnet_set_recv_timeout")
            try ShimFailure.check(
                cnet_set_send_timeout(fd, Self.safetyTimeoutMilliseconds), "cnet_set_send_timeout")
        }
    }

    /// Closes the client end now (the peer sees end of stream or a reset).
    func closeClient() {
        if clientOpen { _ = cnet_close(client) }
        clientOpen = false
    }

    /// Closes the server end now.
    func closeServer() {
        if serverOpen { _ = cnet_close(server) }
        serverOpen = false
    }

    /// Closes whatever is still open.
    func close() {
        closeClient()
        closeServer()
    }

    /// Waits until fd is readable (for a listener: a connection is pending).
    static func waitReadable(_ fd: Int32, milliseconds: Int32) throws {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = ContinuousClock.now + .milliseconds(Int(milliseconds))
        while ContinuousClock.now < deadline {
            let n = poll(&entry, 1, milliseconds)
            if n > 0 { return }
            if n < 0 && errno != EINTR { throw ShimFailure(operation: "poll", code: Int(-errno)) }
        }
        throw ShimFailure(operation: "poll", code: Int(-ETIMEDOUT))
    }
}

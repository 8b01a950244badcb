import CNetShim
import CNetTLS

#if canImport(Glibc)
    import Glibc
#endif

/// A TLS client over a blocking socket (its SO_RCVTIMEO/SO_SNDTIMEO bound
/// every wait): the echo client's transport with `--tls`. One thread: a
/// large exchange interleaves sending and reading (`exchange`), so the
/// server's backpressure cannot deadlock it.
public final class TLSClientStream {
    let fd: Int32
    let conn: OpaquePointer
    private let context: TLSContext
    private let buffer: UnsafeMutableRawPointer
    private static let bufferSize = 64 * 1024
    /// Plaintext is written in records of at most this many bytes, the
    /// echo read in between.
    static let sendPiece = 16 * 1024

    /// A connection on `fd` (not owned: the caller closes it).
    public init(fd: Int32, context: TLSContext, serverName: String?) throws(TrustError) {
        guard let conn = withExtendedLifetime(context, { cnet_tls_conn_new_client(context.pointer, serverName) })
        else {
            throw TrustError(kind: .usage, message: "cannot use '\(serverName ?? "")' as the TLS server name")
        }
        self.fd = fd
        self.conn = conn
        self.context = context
        self.buffer = .allocate(byteCount: TLSClientStream.bufferSize, alignment: 16)
    }

    deinit {
        cnet_tls_conn_free(conn)
        buffer.deallocate()
    }

    public var version: String { String(cString: cnet_tls_conn_version(conn)) }
    public var cipher: String { String(cString: cnet_tls_conn_cipher(conn)) }
    public var resumed: Bool { cnet_tls_conn_session_reused(conn) != 0 }

    /// Runs the handshake to its end. `target` names the server in errors:
    /// a failed handshake (certificate refused, TLS alert) is unavailable
    /// (69), a timeout 75, a server that closes 74.
    public func handshake(target: String, timeout: Double) throws(TrustError) {
        while true {
            let rc = cnet_tls_handshake(conn)
            let flushed = flush()
            if rc == 1 && flushed >= 0 { return }
            if rc == -EPROTO {
                throw TrustError(
                    kind: .unavailable,
                    message: "TLS handshake with \(target) failed: \(String(cString: cnet_tls_conn_error(conn)))")
            }
            if flushed < 0 {
                throw TrustError(
                    kind: .closedEarly, message: "server closed the connection during the TLS handshake",
                    errno: Errno(rawValue: Int32(truncatingIfNeeded: flushed)), operation: "send")
            }
            let n = cnet_recv(fd, buffer, TLSClientStream.bufferSize)
            if n == 0 {
                throw TrustError(kind: .closedEarly, message: "server closed the connection during the TLS handshake")
            }
            if n < 0 {
                let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
                if errno == .wouldBlock {
                    throw TrustError(
                        kind: .system, message: "TLS handshake with \(target) timed out after \(timeout) s",
                        errno: .timedOut, operation: "recv")
                }
                throw TrustError(
                    kind: .system, message: "TLS handshake with \(target) failed: \(errno.description)",
                    errno: errno, operation: "recv")
            }
            _ = cnet_tls_feed(conn, buffer, n)
        }
    }

    /// Sends what OpenSSL has produced; 0, or -errno.
    func flush() -> Int {
        while cnet_tls_pending(conn) > 0 {
            let count = cnet_tls_take(conn, buffer, TLSClientStream.bufferSize)
            var moved = 0
            let rc = cnet_send_all(fd, buffer, count, &moved)
            if rc < 0 { return rc }
        }
        return 0
    }

    /// Sends `bytes` (then close_notify and a TCP half-close when
    /// `halfClose`) and reads up to `expected` bytes of echo, reading while
    /// it sends. `sent` is the plaintext handed over before a failure.
    public func exchange(_ bytes: [UInt8], expected: Int, halfClose: Bool) -> (
        sendRC: Int, sent: Int, receiveRC: Int, echo: [UInt8]
    ) {
        var echo: [UInt8] = []
        echo.reserveCapacity(expected)
        var sent = 0
        var sendRC = 0
        var receiveRC = 0
        while sent < bytes.count {
            let piece = min(TLSClientStream.sendPiece, bytes.count - sent)
            let written = bytes.withUnsafeBytes { cnet_tls_write(conn, $0.baseAddress! + sent, piece) }
            if written < 0 {
                sendRC = -Int(EPROTO)
                break
            }
            sendRC = flush()
            if sendRC < 0 { break }
            sent += piece
            // What has come back so far, without waiting.
            receiveRC = read(into: &echo, upTo: expected, wait: false)
            if receiveRC < 0 && receiveRC != -Int(EAGAIN) { return (sendRC, sent, receiveRC, echo) }
        }
        if sendRC >= 0 && halfClose {
            _ = cnet_tls_close_notify(conn)
            sendRC = flush()
            if sendRC >= 0 { _ = cnet_shutdown_write(fd) }
        }
        receiveRC = read(into: &echo, upTo: expected, wait: true)
        return (sendRC, sent, receiveRC, echo)
    }

    /// Reads plaintext until `expected` bytes, the end of the stream (0),
    /// or a failure; without `wait`, only what is already there (-EAGAIN
    /// then). -EPROTO for a TLS failure.
    func read(into echo: inout [UInt8], upTo expected: Int, wait: Bool) -> Int {
        while echo.count < expected {
            let n = cnet_tls_read(conn, buffer, min(TLSClientStream.bufferSize, expected - echo.count))
            if n > 0 {
                echo.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
                continue
            }
            if n == 0 { return 0 }
            if n != -Int(EAGAIN) { return -Int(EPROTO) }
            if flush() < 0 { return -Int(EPIPE) }
            if !wait && !TLSClientStream.readable(fd) { return -Int(EAGAIN) }
            let received = cnet_recv(fd, buffer, TLSClientStream.bufferSize)
            if received == 0 { return 0 }
            if received < 0 { return received }
            _ = cnet_tls_feed(conn, buffer, received)
        }
        return echo.count
    }

    /// Sends close_notify (best effort) before the caller closes the socket.
    public func close() {
        if cnet_tls_close_notify(conn) == 0 { _ = flush() }
    }

    /// The TLS failure's reason after an -EPROTO.
    public var failureReason: String { String(cString: cnet_tls_conn_error(conn)) }

    static func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }
}

import CNetShim
import CNetTLS

#if canImport(Glibc)
    import Glibc
#endif

/// TLS output: a handler's plaintext is encrypted into the connection's
/// OpenSSL buffer, and the ciphertext leaves through the plain send path
/// (`sendRaw`), so backpressure, pending output and both backends work as
/// for plain TCP. On io_uring the ciphertext is always copied to the
/// connection's pending buffer (it never lies in a ring buffer, so there is
/// no zero-copy send over TLS).
extension ConnectionIO {
    /// A handler's output on a TLS connection: encrypted now, sent by
    /// `tlsFlush` once the handler's call returns (one flush for all the
    /// records of a call).
    func tlsSend(
        _ c: UnsafeMutablePointer<ConnectionSlot>, _ conn: OpaquePointer, _ bytes: UnsafeRawPointer, _ count: Int
    )
        -> Bool
    {
        if c.pointee.failure != 0 { return false }
        let written = cnet_tls_write(conn, bytes, count)
        if written < 0 {
            c.pointee.failure = CloseReason.error.code
            c.pointee.failureErrno = EPROTO
            return false
        }
        return true
    }

    /// Sends the ciphertext OpenSSL has produced (handshake flights, records,
    /// alerts, close_notify). Returns false if the connection has failed.
    @discardableResult
    func tlsFlush(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        guard let conn = c.pointee.tls, let tls else { return c.pointee.failure == 0 }
        while cnet_tls_pending(conn) > 0 {
            let count = cnet_tls_take(conn, tls.scratch, WorkerTLS.scratchSize)
            if count == 0 { break }
            if !sendRaw(slot, c, tls.scratch, count) { return false }
        }
        return c.pointee.failure == 0
    }
}

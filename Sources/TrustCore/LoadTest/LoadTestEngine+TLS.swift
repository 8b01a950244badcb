import CNetShim
import CNetTLS

#if canImport(Glibc)
    import Glibc
#endif

/// One engine's TLS state (`echo-load-test --tls`): each slot's OpenSSL
/// connection, its handshake under way, and with `--tls-resume` the session
/// its next connection offers. Only the engine's thread touches it.
final class LoadTLS {
    let context: TLSContext
    let serverName: String?
    let resume: Bool
    var conns: [OpaquePointer?]
    var sessions: [OpaquePointer?]
    var handshaking: [Bool]
    var handshakeStart: [Int64]

    init(context: TLSContext, serverName: String?, resume: Bool, slots: Int) {
        self.context = context
        self.serverName = serverName
        self.resume = resume
        conns = Array(repeating: nil, count: slots)
        sessions = Array(repeating: nil, count: slots)
        handshaking = Array(repeating: false, count: slots)
        handshakeStart = Array(repeating: 0, count: slots)
    }

    deinit {
        for conn in conns { cnet_tls_conn_free(conn) }
        for session in sessions where session != nil { cnet_tls_session_free(session) }
    }
}

extension LoadTest {
    /// One client context for every loop (an SSL_CTX is shared safely).
    func attachTLS(_ engines: [LoadTestEngine]) throws(TrustError) {
        guard let tls = options.tls else { return }
        let context = try tls.makeContext()
        for engine in engines {
            engine.tls = LoadTLS(
                context: context, serverName: tls.serverName ?? options.host, resume: options.tlsResume,
                slots: engine.share.slots)
        }
    }
}

/// The TLS path of the engine: after the TCP connect, a handshake (timed
/// apart from the round trips: `tls.handshakes`, its own latency
/// histogram); then each message is encrypted whole and its ciphertext sent
/// from OpenSSL's buffer as the socket takes it; the echo is decrypted and
/// checked as it lands, like the plain path's.
extension LoadTestEngine {
    func startHandshake(_ s: Int) {
        guard let tls else { return }
        let conn = withExtendedLifetime(tls.context) {
            cnet_tls_conn_new_client(tls.context.pointer, tls.serverName)
        }
        guard let conn else {
            fail(s, .other, "cannot set up TLS for '\(tls.serverName ?? "")'")
            return
        }
        if tls.resume, let session = tls.sessions[s] { _ = cnet_tls_conn_set_session(conn, session) }
        tls.conns[s] = conn
        tls.handshaking[s] = true
        tls.handshakeStart[s] = now
        timeouts.append(Int32(s), at: now)
        slots[s].timed = true
        handshakeStep(s)
    }

    /// A readiness event while the handshake runs.
    func handshakeEvent(_ s: Int) {
        guard let conn = tls?.conns[s] else { return }
        if !flushTLS(s, conn) { return }
        let n = cnet_recv(slots[s].fd, receiveBuffer, LoadTestEngine.receiveCapacity)
        if n == 0 {
            fail(s, .closedEarly, "server closed the connection during the TLS handshake")
            return
        }
        if n < 0 {
            if n == -Int(EAGAIN) { return }
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
            fail(s, LoadFailureKind.ofTransfer(errno), "recv: \(errno.description)", errno: errno)
            return
        }
        _ = cnet_tls_feed(conn, receiveBuffer, n)
        handshakeStep(s)
    }

    private func handshakeStep(_ s: Int) {
        guard let tls, let conn = tls.conns[s] else { return }
        let rc = cnet_tls_handshake(conn)
        let generation = slots[s].generation
        if !flushTLS(s, conn) || slots[s].generation != generation { return }
        if rc == -EPROTO {
            tally.tls.failures += 1
            fail(
                s, .other, "TLS handshake failed: \(String(cString: cnet_tls_conn_error(conn)))",
                errno: Errno(rawValue: EPROTO))
            return
        }
        guard rc == 1 else { return }
        tls.handshaking[s] = false
        untime(s)
        tally.tls.handshakes += 1
        if cnet_tls_conn_session_reused(conn) != 0 { tally.tls.resumed += 1 }
        tally.tls.handshakeTime.record(nanoseconds: now - tls.handshakeStart[s])
        beginRoundTrip(s)
    }

    /// Sends what OpenSSL holds, straight from its buffer; watches for
    /// writability while some is left. False if the connection failed.
    func flushTLS(_ s: Int, _ conn: OpaquePointer) -> Bool {
        let fd = slots[s].fd
        var data: UnsafeRawPointer?
        var pending = cnet_tls_peek(conn, &data)
        while pending > 0, let base = data {
            let n = cnet_send(fd, base, pending)
            if n < 0 {
                if n == -Int(EAGAIN) { break }
                let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
                fail(s, LoadFailureKind.ofTransfer(errno), "send: \(errno.description)", errno: errno)
                return false
            }
            cnet_tls_consume(conn, n)
            pending = cnet_tls_peek(conn, &data)
        }
        let wantWrite = pending > 0
        if wantWrite != slots[s].writeArmed {
            slots[s].writeArmed = wantWrite
            _ = loop.modify(fd, wantWrite ? [.read, .write] : .read, token: token(s))
        }
        return true
    }

    /// The message, encrypted whole the first time, then flushed.
    func tlsSend(_ s: Int) {
        guard let conn = tls?.conns[s] else { return }
        while slots[s].sent < messageLength {
            let chunk = messages.chunk(offset: slots[s].offset, sent: slots[s].sent)
            if cnet_tls_write(conn, chunk.bytes, chunk.count) < 0 {
                fail(s, .other, "TLS: \(String(cString: cnet_tls_conn_error(conn)))", errno: Errno(rawValue: EPROTO))
                return
            }
            slots[s].sent += chunk.count
            tally.bytesSent &+= UInt64(chunk.count)
        }
        _ = flushTLS(s, conn)
    }

    /// Ciphertext in; the echo decrypted and checked (plaintext bytes are
    /// what `bytes_received` counts over TLS).
    func tlsReceive(_ s: Int) {
        guard let tls, let conn = tls.conns[s] else { return }
        if tls.handshaking[s] {
            handshakeEvent(s)
            return
        }
        let n = cnet_recv(slots[s].fd, receiveBuffer, LoadTestEngine.receiveCapacity)
        if n == 0 {
            let what =
                slots[s].phase == .inFlight
                ? "server closed the connection after \(slots[s].received) of \(messageLength) echo bytes"
                : "server closed the connection between round trips"
            fail(s, .closedEarly, what)
            return
        }
        if n < 0 {
            if n == -Int(EAGAIN) { return }
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
            fail(s, LoadFailureKind.ofTransfer(errno), "recv: \(errno.description)", errno: errno)
            return
        }
        _ = cnet_tls_feed(conn, receiveBuffer, n)
        let generation = slots[s].generation
        while slots[s].generation == generation {
            let got = cnet_tls_read(conn, receiveBuffer, LoadTestEngine.receiveCapacity)
            if got == -Int(EAGAIN) { break }
            if got == 0 {
                fail(s, .closedEarly, "server sent close_notify after \(slots[s].received) of \(messageLength) bytes")
                return
            }
            if got < 0 {
                fail(s, .other, "TLS: \(String(cString: cnet_tls_conn_error(conn)))", errno: Errno(rawValue: EPROTO))
                return
            }
            tally.bytesReceived &+= UInt64(got)
            let received = slots[s].received
            guard slots[s].phase == .inFlight, received + got <= slots[s].sent else {
                fail(s, .mismatch, "the server sent \(got) bytes more than it was sent")
                return
            }
            if let at = messages.firstDifference(receiveBuffer, count: got, at: received, offset: slots[s].offset) {
                fail(s, .mismatch, "echo differs from what was sent at byte \(at) of \(messageLength)")
                return
            }
            slots[s].received = received + got
            if slots[s].received == messageLength { complete(s) }
        }
        // Reading may have produced output (a key update's answer).
        if slots[s].generation == generation { _ = flushTLS(s, conn) }
    }

    /// The slot's connection ends: with --tls-resume its session is kept
    /// for the slot's next connection; close_notify goes out best effort.
    func tlsClose(_ s: Int) {
        guard let tls, let conn = tls.conns[s] else { return }
        if tls.resume && !tls.handshaking[s], let session = cnet_tls_conn_get_session(conn) {
            if let old = tls.sessions[s] { cnet_tls_session_free(old) }
            tls.sessions[s] = session
        }
        if !tls.handshaking[s] && cnet_tls_close_notify(conn) == 0 {
            var data: UnsafeRawPointer?
            let pending = cnet_tls_peek(conn, &data)
            if pending > 0, let data { _ = cnet_send(slots[s].fd, data, pending) }
        }
        tls.handshaking[s] = false
        cnet_tls_conn_free(conn)
        tls.conns[s] = nil
    }
}

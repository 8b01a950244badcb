import CNetShim
import CNetTLS
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// TLS as a layer of the core, between the socket and the handler: what a
/// connection receives is ciphertext, fed to its OpenSSL state (memory
/// buffers: the worker keeps doing every recv and send, on epoll and
/// io_uring alike); the handshake runs first, under its own deadline; then
/// the plaintext goes to the handler (`handOver`) and its answers are
/// encrypted on the way out (`ConnectionIO+TLS.swift`). No handler knows.
extension StreamWorker {
    /// A new connection on a TLS service: its OpenSSL state from the
    /// context current now (a SIGHUP reload affects later connections only)
    /// and its handshake deadline. False if it could not be made (closed).
    func startTLS(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        guard let tls = io.tls else { return true }
        let context = tls.store.context
        let conn = withExtendedLifetime(context) { cnet_tls_conn_new_server(context.pointer) }
        guard let conn else {
            c.pointee.failure = CloseReason.error.code
            c.pointee.failureErrno = ENOMEM
            closeFailed(slot, c)
            return false
        }
        c.pointee.tls = conn
        let deadline = io.now + tls.handshakeTimeoutMs
        tls.deadlines[slot] = deadline
        tls.earliestDeadline = min(tls.earliestDeadline, deadline)
        return true
    }

    /// Ciphertext arrived (already counted in bytes_in): handshake, then
    /// plaintext to the handler, up to 64 KiB per call.
    func tlsReceived(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ chunk: UnsafeMutableRawBufferPointer) {
        guard let conn = c.pointee.tls, c.pointee.closeAfterFlush == 0, let base = chunk.baseAddress else { return }
        if cnet_tls_feed(conn, base, chunk.count) != 0 {
            c.pointee.failure = CloseReason.error.code
            c.pointee.failureErrno = ENOMEM
            closeFailed(slot, c)
            return
        }
        if cnet_tls_is_established(conn) == 0 {
            let rc = cnet_tls_handshake(conn)
            if rc == -EPROTO {
                tlsHandshakeFailed(slot, c, reason: String(cString: cnet_tls_conn_error(conn)), immediately: false)
                return
            }
            guard io.tlsFlush(slot, c) else {
                closeFailed(slot, c)
                return
            }
            if rc != 1 { return }
            tlsEstablished(slot, c, conn)
        }
        readPlaintext(slot, c, conn)
    }

    /// Decrypts what is buffered and hands it over; stops when the
    /// connection closes or is closing (its session may be gone then).
    private func readPlaintext(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ conn: OpaquePointer) {
        let generation = c.pointee.generation
        let capacity = StreamWorker.readCapacity
        var filled = 0
        var result = 0
        repeat {
            result = cnet_tls_read(conn, readBuffer + filled, capacity - filled)
            if result > 0 {
                filled += result
                // Room for one more whole record (16 KiB): read on.
                if filled + 16 * 1024 <= capacity { continue }
            }
            if filled > 0 {
                handOver(slot, c, UnsafeMutableRawBufferPointer(start: readBuffer, count: filled))
                filled = 0
                guard c.pointee.isOpen, c.pointee.generation == generation, c.pointee.closeAfterFlush == 0,
                    c.pointee.failure == 0
                else { return }
            }
        } while result > 0
        if result == 0 {
            // close_notify: the client's end of input.
            endOfInput(slot, c)
        } else if result != -Int(EAGAIN) {
            io.tls?.failures[slot] = String(cString: cnet_tls_conn_error(conn))
            c.pointee.failure = CloseReason.error.code
            c.pointee.failureErrno = EPROTO
            closeFailed(slot, c)
        } else if !io.tlsFlush(slot, c) {
            // Reading may answer (a key update); a failed send closes.
            closeFailed(slot, c)
        }
    }

    private func tlsEstablished(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ conn: OpaquePointer) {
        io.tls?.deadlines[slot] = nil
        io.counters.add(.tlsHandshakes)
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "request_id": "\(state.requestID(c.pointee.serial))", "peer": "\(c.pointee.peer.formatted)",
            "tls_version": "\(String(cString: cnet_tls_conn_version(conn)))",
            "cipher": "\(String(cString: cnet_tls_conn_cipher(conn)))",
            "resumed": "\(cnet_tls_conn_session_reused(conn) != 0)",
            "handshake_ms": .stringConvertible(max(0, io.now - c.pointee.acceptedAt)),
        ]
        if let name = cnet_tls_conn_server_name(conn) { metadata["sni"] = "\(String(cString: name))" }
        logger.info("tls_handshake_completed", metadata: metadata)
    }

    /// The handshake failed (or timed out): counted, the reason kept for the
    /// close line, the alert OpenSSL wrote sent, and the connection closed,
    /// once the alert has left unless `immediately`.
    func tlsHandshakeFailed(
        _ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, reason: String, immediately: Bool
    ) {
        guard let tls = io.tls else { return }
        io.counters.add(.tlsHandshakeFailures)
        tls.deadlines[slot] = nil
        tls.failures[slot] = reason
        if immediately || !io.tlsFlush(slot, c) {
            close(slot, c, reason: .tlsHandshakeFailed)
        } else {
            closeWhenFlushed(slot, c, reason: .tlsHandshakeFailed)
        }
    }

    /// Called by `close` while the socket is still open: close_notify when
    /// the connection ends cleanly, the TLS fields of `connection_closed`,
    /// and the OpenSSL state freed.
    func tlsClosing(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, reason: CloseReason)
        -> Logger.Metadata?
    {
        guard let conn = c.pointee.tls else { return nil }
        let failure = io.tls?.failures.removeValue(forKey: slot)
        io.tls?.deadlines[slot] = nil
        let established = cnet_tls_is_established(conn) != 0
        if established && c.pointee.failure == 0 && reason != .reset && !hasOutput(c) {
            sendCloseNotify(c, conn)
        }
        var fields: Logger.Metadata? = nil
        if logger.logLevel <= .info {
            var metadata: Logger.Metadata = [:]
            if established {
                metadata["tls_version"] = "\(String(cString: cnet_tls_conn_version(conn)))"
                metadata["cipher"] = "\(String(cString: cnet_tls_conn_cipher(conn)))"
            }
            if let name = cnet_tls_conn_server_name(conn) { metadata["sni"] = "\(String(cString: name))" }
            if let failure { metadata["tls_error"] = "\(failure)" }
            fields = metadata
        }
        cnet_tls_conn_free(conn)
        c.pointee.tls = nil
        return fields
    }

    /// close_notify, sent directly: nothing else is waiting to be sent
    /// (checked by the caller; on io_uring no send is in flight either), and
    /// the alert is a few dozen bytes, so the socket takes it or the
    /// connection was dead anyway. Best effort, like every TLS stack's.
    private func sendCloseNotify(_ c: UnsafeMutablePointer<ConnectionSlot>, _ conn: OpaquePointer) {
        guard let tls = io.tls, cnet_tls_close_notify(conn) == 0 else { return }
        let count = cnet_tls_take(conn, tls.scratch, WorkerTLS.scratchSize)
        if count > 0 && cnet_send(c.pointee.fd, tls.scratch, count) > 0 {
            io.moved(c, count)
        }
    }

    /// Closes connections whose handshake did not complete in time.
    func expireTLSHandshakes() {
        guard let tls = io.tls else { return }
        var earliest = Int64.max
        var expired: [Int32] = []
        for (slot, deadline) in tls.deadlines {
            if deadline <= io.now {
                expired.append(slot)
            } else {
                earliest = min(earliest, deadline)
            }
        }
        tls.earliestDeadline = earliest
        let limit = NumberRange.format(tls.store.configuration.handshakeTimeout)
        for slot in expired {
            tlsHandshakeFailed(
                slot, table.slot(slot), reason: "no complete handshake within \(limit) s", immediately: true)
        }
    }
}

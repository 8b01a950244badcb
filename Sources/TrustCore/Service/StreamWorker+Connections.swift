import CNetShim
import CNetTLS
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A connection's events: bytes in, output flushed, end of stream, close.
/// Shared by both backends; `slot` indexes the worker's tables and
/// `c.pointee.fd` is the socket (the same number on epoll).
extension StreamWorker {
    /// epoll: a connection's readiness.
    @inline(__always)
    func service(token: UInt64) {
        let slot = EventLoop.Token.slot(token)
        guard slot >= 0, Int(slot) < table.capacity else { return }
        let c = table.slot(slot)
        guard c.pointee.isOpen, c.pointee.generation == EventLoop.Token.generation(token) else { return }
        if c.pointee.pendingCount > 0 {
            writable(slot, c)
        } else if !c.pointee.readPaused {
            readable(slot, c)
        }
    }

    /// Where a byte enters (epoll, and the drain on both): one recv into the
    /// worker's read buffer. Level triggering brings us back if more is
    /// waiting, so one recv per event keeps every connection's turn short and
    /// saves the EAGAIN round.
    @inline(__always)
    func readable(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        let chunk = readBuffer
        let n = cnet_recv(c.pointee.fd, chunk, StreamWorker.readCapacity)
        if n > 0 {
            deliver(slot, c, UnsafeMutableRawBufferPointer(start: chunk, count: n))
        } else if n == 0 {
            endOfInput(slot, c)
        } else if n != -Int(EAGAIN) {
            if !io.failed(c, Errno(rawValue: Int32(truncatingIfNeeded: n))) { closeFailed(slot, c) }
        }
    }

    /// Where a byte is handled: the handler sees the chunk and answers
    /// through its `StreamConnection`; the core then closes what it asked to
    /// close or what failed while it sent.
    @inline(__always)
    func deliver(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ chunk: UnsafeMutableRawBufferPointer) {
        if c.pointee.awaitingProxyHeader {
            readProxyHeader(slot, c, chunk)
            return
        }
        c.pointee.bytesIn &+= UInt64(chunk.count)
        io.counters.add(.bytesIn, UInt64(chunk.count))
        if io.timeoutMs > 0 { io.idle.touch(slot, at: io.now) }
        if c.pointee.tls != nil {
            tlsReceived(slot, c, chunk)
            return
        }
        handOver(slot, c, chunk)
    }

    /// The handler's turn with plaintext (the received bytes themselves, or
    /// on TLS what they decrypted to).
    @inline(__always)
    func handOver(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ chunk: UnsafeMutableRawBufferPointer) {
        var connection = StreamConnection(io: io, slot: c, index: slot)
        handler.received(chunk, session: &table.session(slot).pointee, connection: &connection)
        if c.pointee.tls != nil { io.tlsFlush(slot, c) }
        if c.pointee.failure != 0 {
            closeFailed(slot, c)
        } else if c.pointee.closeAfterFlush != 0 && !hasOutput(c) {
            close(slot, c, reason: reasons[c.pointee.closeAfterFlush])
        } else if io.uring != nil && (c.pointee.closeAfterFlush != 0 || c.pointee.pendingCount > 0) {
            // No more input for a closing connection; none, as on epoll, for
            // one with output waiting behind a send, until it has left.
            c.pointee.readPaused = true
            io.cancelReceive(slot, c)
        }
    }

    /// Output not yet taken by the kernel (on io_uring also a send in
    /// flight or a zero-copy send waiting for its turn).
    @inline(__always)
    func hasOutput(_ c: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        c.pointee.pendingCount > 0 || c.pointee.uring.heldBuffer != 0 || c.pointee.uring.sendInFlight
    }

    /// The client half-closed.
    func endOfInput(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        if c.pointee.awaitingProxyHeader {
            close(slot, c, reason: .proxyHeaderInvalid, detail: "end of input before the header was complete")
            return
        }
        if let conn = c.pointee.tls, cnet_tls_is_established(conn) == 0 {
            tlsHandshakeFailed(slot, c, reason: "the peer closed during the handshake", immediately: true)
            return
        }
        closeWhenFlushed(slot, c, reason: handler.endOfInput(session: &table.session(slot).pointee))
    }

    /// epoll: the client reads again: flush pending output; once all is out,
    /// reads resume, or the close that was waiting for it happens.
    func writable(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        let flushed = io.flush(slot, c)
        outputProgressed(slot, c, allSent: flushed)
    }

    /// After output moved: close on failure, finish a close that waited for
    /// the flush, or (io_uring) resume a paused receive.
    func outputProgressed(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, allSent: Bool) {
        if c.pointee.failure != 0 {
            closeFailed(slot, c)
        } else if allSent && draining && c.pointee.closeAfterFlush == CloseReason.shutdown.code {
            // Reading was paused behind this output: what the client sent
            // meanwhile is still "already received" and gets its echo.
            c.pointee.closeAfterFlush = 0
            c.pointee.readPaused = false
            if io.uring == nil {
                _ = loop.modify(
                    c.pointee.fd, .read, token: EventLoop.Token.make(slot: slot, generation: c.pointee.generation))
            }
            drainReceived(slot, c)
            if c.pointee.isOpen { closeWhenFlushed(slot, c, reason: .shutdown) }
        } else if allSent && c.pointee.closeAfterFlush != 0 {
            close(slot, c, reason: reasons[c.pointee.closeAfterFlush])
        } else if allSent && io.uring != nil && c.pointee.readPaused {
            c.pointee.readPaused = false
            io.armReceive(slot, c)
        }
    }

    func closeWhenFlushed(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, reason: CloseReason) {
        if !hasOutput(c) {
            close(slot, c, reason: reason)
        } else if c.pointee.closeAfterFlush == 0 {
            c.pointee.closeAfterFlush = reason.code
            if io.uring != nil {
                c.pointee.readPaused = true
                io.cancelReceive(slot, c)
            }
        }
    }

    func closeFailed(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        close(slot, c, reason: reasons[c.pointee.failure], errno: Errno(rawValue: c.pointee.failureErrno))
    }

    // MARK: - Closing

    /// `detail` says why a PROXY header was refused (`proxy_error`).
    func close(
        _ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, reason: CloseReason, errno: Errno? = nil,
        detail: String? = nil
    ) {
        // First: once the close is observable (the log line, the client's
        // EOF), the --max-clients slot must already be free, or a client
        // connecting right after it is refused by another worker.
        state.activeClients.subtract(1, ordering: .relaxed)
        io.counters.addClosed(code: reason.code)
        let tlsFields = c.pointee.tls != nil ? tlsClosing(slot, c, reason: reason) : nil
        var balancer: PeerAddress? = nil
        if options.proxyProtocol != .off {
            balancer = proxiedBy.removeValue(forKey: slot)
            if c.pointee.awaitingProxyHeader {
                proxyPending[slot] = nil
                c.pointee.awaitingProxyHeader = false
            }
        }
        if logger.logLevel <= .info {
            var metadata: Logger.Metadata = [
                "request_id": "\(state.requestID(c.pointee.serial))",
                "peer": "\(c.pointee.peer.formatted)",
                "reason": "\(reason)",
                "frames": .stringConvertible(c.pointee.frames),
                "bytes_in": .stringConvertible(c.pointee.bytesIn),
                "bytes_out": .stringConvertible(c.pointee.bytesOut),
                "duration_ms": .stringConvertible(max(0, io.now - c.pointee.acceptedAt)),
            ]
            if let errno { metadata["errno"] = "\(errno.name)" }
            if let balancer { metadata["proxied_by"] = "\(balancer.formatted)" }
            if let detail { metadata["proxy_error"] = "\(detail)" }
            if let tlsFields { metadata.merge(tlsFields) { core, _ in core } }
            handler.describeClose(session: &table.session(slot).pointee, reason: reason, into: &metadata)
            logger.info("connection_closed", metadata: metadata)
        }
        table.close(slot)
        io.idle.remove(slot)
        if io.uring != nil {
            // Requests still in the kernel complete (cancelled) with this
            // generation; the slot is handed out again only after the last.
            io.cancelReceive(slot, c)
            io.cancelWritable(slot, c)
            if !c.pointee.uring.sendInFlight {
                io.releaseHeld(c)
                io.releasePending(c)
            }
            c.pointee.uring.sendQueued = false
        } else {
            io.releasePending(c)
        }
        c.pointee.isOpen = false
        c.pointee.generation &+= 1
        _ = cnet_close(c.pointee.fd)
        if io.uring != nil { releaseSlotIfIdle(slot, c) }
    }

    /// io_uring: a closed slot whose requests have all completed is free.
    @inline(__always)
    func releaseSlotIfIdle(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        if !c.pointee.isOpen && c.pointee.uring.inflight == 0 {
            io.releaseHeld(c)
            io.releasePending(c)
            freeSlots.append(slot)
        }
    }

    // MARK: - PROXY protocol

    /// A new connection under `--proxy-protocol`: refused at once from a
    /// peer outside `--proxy-trusted`, else its first bytes go to a parser.
    func awaitProxyHeader(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        guard let peer = c.pointee.peer.endpoint, options.proxyTrusted.contains(peer.address),
            let parser = ProxyHeaderParser(mode: options.proxyProtocol)
        else {
            close(slot, c, reason: .proxyHeaderInvalid, detail: "peer not in --proxy-trusted")
            return
        }
        let deadline = io.now + PendingProxyHeader.timeoutMs
        proxyPending[slot] = PendingProxyHeader(parser: parser, deadline: deadline)
        proxyEarliestDeadline = min(proxyEarliestDeadline, deadline)
        c.pointee.awaitingProxyHeader = true
    }

    /// Bytes of a connection still in its PROXY header: the header is
    /// consumed (never echoed), what follows it in the chunk is the
    /// handler's first input.
    func readProxyHeader(
        _ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ chunk: UnsafeMutableRawBufferPointer
    ) {
        guard var pending = proxyPending[slot] else { return }
        switch pending.parser.parse(UnsafeRawBufferPointer(chunk)) {
        case .needMore:
            proxyPending[slot] = pending
        case .invalid(let error):
            close(slot, c, reason: .proxyHeaderInvalid, detail: "\(error)")
        case .done(let header, let consumed):
            proxyPending[slot] = nil
            c.pointee.awaitingProxyHeader = false
            // LOCAL (a health check) and UNKNOWN keep the balancer as the peer.
            if let source = header.source {
                proxiedBy[slot] = c.pointee.peer
                c.pointee.peer = PeerAddress(source)
            }
            logAccepted(slot, c)
            if consumed < chunk.count {
                deliver(slot, c, UnsafeMutableRawBufferPointer(rebasing: chunk[consumed...]))
            }
        }
    }

    /// Closes connections whose header did not arrive in time.
    func expireProxyHeaders() {
        var earliest = Int64.max
        var expired: [Int32] = []
        for (slot, pending) in proxyPending {
            if pending.deadline <= io.now {
                expired.append(slot)
            } else {
                earliest = min(earliest, pending.deadline)
            }
        }
        proxyEarliestDeadline = earliest
        for slot in expired {
            close(slot, table.slot(slot), reason: .proxyHeaderInvalid, detail: "no complete header within 3 s")
        }
    }

    /// Close connections whose last activity is older than the timeout:
    /// from the head of the idle list, stopping at the first one still
    /// within it, at most `expireBatch` per pass.
    func expireIdle() {
        for _ in 0..<StreamWorker.expireBatch {
            guard io.idle.head >= 0 else { return }
            let slot = io.idle.head
            if io.idle.lastActivity(of: slot) + io.timeoutMs > io.now { return }
            let c = table.slot(slot)
            close(slot, c, reason: hasOutput(c) ? .sendTimeout : .idleTimeout)
        }
    }
}

import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A connection's events: bytes in, output flushed, end of stream, close.
extension StreamWorker {
    @inline(__always)
    func service(token: UInt64) {
        let fd = EventLoop.Token.slot(token)
        guard fd >= 0, Int(fd) < table.capacity else { return }
        let c = table.slot(fd)
        guard c.pointee.isOpen, c.pointee.generation == EventLoop.Token.generation(token) else { return }
        if c.pointee.pendingCount > 0 {
            writable(fd, c)
        } else if !c.pointee.readPaused {
            readable(fd, c)
        }
    }

    /// Where a byte enters: one recv into the worker's read buffer. Level
    /// triggering brings us back if more is waiting, so one recv per event
    /// keeps every connection's turn short and saves the EAGAIN round.
    @inline(__always)
    func readable(_ fd: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        let chunk = readBuffer
        let n = cnet_recv(fd, chunk, StreamWorker.readCapacity)
        if n > 0 {
            deliver(fd, c, UnsafeMutableRawBufferPointer(start: chunk, count: n))
        } else if n == 0 {
            closeWhenFlushed(fd, c, reason: handler.endOfInput(session: &table.session(fd).pointee))
        } else if n != -Int(EAGAIN) {
            if !io.failed(c, Errno(rawValue: Int32(truncatingIfNeeded: n))) { closeFailed(fd, c) }
        }
    }

    /// Where a byte is handled: the handler sees the chunk and answers
    /// through its `StreamConnection`; the core then closes what it asked to
    /// close or what failed while it sent.
    @inline(__always)
    func deliver(_ fd: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ chunk: UnsafeMutableRawBufferPointer) {
        c.pointee.bytesIn &+= UInt64(chunk.count)
        io.counters.add(.bytesIn, UInt64(chunk.count))
        if io.timeoutMs > 0 { io.idle.touch(fd, at: io.now) }
        var connection = StreamConnection(io: io, slot: c, index: fd)
        handler.received(chunk, session: &table.session(fd).pointee, connection: &connection)
        if c.pointee.failure != 0 {
            closeFailed(fd, c)
        } else if c.pointee.closeAfterFlush != 0 && c.pointee.pendingCount == 0 {
            close(fd, c, reason: reasons[c.pointee.closeAfterFlush])
        }
    }

    /// The client reads again: flush pending output; once all is out, reads
    /// resume, or the close that was waiting for it happens.
    func writable(_ fd: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        let flushed = io.flush(fd, c)
        if c.pointee.failure != 0 {
            closeFailed(fd, c)
        } else if flushed && c.pointee.closeAfterFlush != 0 {
            close(fd, c, reason: reasons[c.pointee.closeAfterFlush])
        }
    }

    func closeWhenFlushed(_ fd: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, reason: CloseReason) {
        if c.pointee.pendingCount == 0 {
            close(fd, c, reason: reason)
        } else if c.pointee.closeAfterFlush == 0 {
            c.pointee.closeAfterFlush = reason.code
        }
    }

    private func closeFailed(_ fd: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        close(fd, c, reason: reasons[c.pointee.failure], errno: Errno(rawValue: c.pointee.failureErrno))
    }

    // MARK: - Closing

    func close(_ fd: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, reason: CloseReason, errno: Errno? = nil) {
        // First: once the close is observable (the log line, the client's
        // EOF), the --max-clients slot must already be free, or a client
        // connecting right after it is refused by another worker.
        state.activeClients.subtract(1, ordering: .relaxed)
        io.counters.addClosed(code: reason.code)
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
            handler.describeClose(session: &table.session(fd).pointee, reason: reason, into: &metadata)
            logger.info("connection_closed", metadata: metadata)
        }
        table.close(fd)
        io.releasePending(c)
        c.pointee.isOpen = false
        c.pointee.generation &+= 1
        io.idle.remove(fd)
        _ = cnet_close(fd)
    }

    /// Close connections whose last activity is older than the timeout:
    /// from the head of the idle list, stopping at the first one still
    /// within it, at most `expireBatch` per pass.
    func expireIdle() {
        for _ in 0..<StreamWorker.expireBatch {
            guard io.idle.head >= 0 else { return }
            let fd = io.idle.head
            if io.idle.lastActivity(of: fd) + io.timeoutMs > io.now { return }
            let c = table.slot(fd)
            close(fd, c, reason: c.pointee.pendingCount > 0 ? .sendTimeout : .idleTimeout)
        }
    }
}

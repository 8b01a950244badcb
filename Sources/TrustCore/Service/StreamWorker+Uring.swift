import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// The io_uring driver of a worker: multishot accept per listener, a
/// multishot receive per connection into the worker's provided buffer ring,
/// sends batched, and every turn one `io_uring_submit_and_wait` whose timeout
/// is the idle list's (or the pause's, or the drain's) next deadline. What a
/// connection does with its bytes, and every limit and log line, is the
/// shared code in `StreamWorker+Connections.swift`.
extension StreamWorker {
    func runUring(_ uring: UringLoop) throws(TrustError) {
        io.now = MonotonicClock.coarseMilliseconds()
        if uring.armWake() != 0 { throw TrustError.system(.noBufferSpace, operation: "io_uring wake-up read") }
        armAccepts()
        while true {
            io.prepareSends { table.slot($0) }
            armStarvedReceives()
            try uring.submitAndWait(timeoutMs: nextTimeout())
            io.now = MonotonicClock.coarseMilliseconds()
            uring.forEachCompletion { tag, result, flags in complete(tag, result, flags, uring) }
            // After the whole batch: a drain reads each socket directly, and
            // must come after every byte already delivered in completions.
            if stopSeen && !draining {
                stopSeen = false
                beginDrain()
            }
            if endOfTurn() { return }
        }
    }

    @inline(__always)
    private func complete(_ tag: UInt64, _ result: Int32, _ flags: UInt32, _ uring: UringLoop) {
        switch UringLoop.Tag.kind(tag) {
        case UringLoop.Kind.receive.rawValue:
            received(tag, result, flags, uring)
        case UringLoop.Kind.send.rawValue:
            sent(tag, result)
        case UringLoop.Kind.accept.rawValue:
            accepted(tag, result, flags)
        case UringLoop.Kind.poll.rawValue:
            let slot = UringLoop.Tag.slot(tag)
            let c = table.slot(slot)
            c.pointee.uring.inflight -= 1
            c.pointee.uring.pollArmed = false
            if !isCurrent(tag, c) {
                releaseSlotIfIdle(slot, c)
            } else if result >= 0 {
                io.writableAgain(slot, c)
            }
        case UringLoop.Kind.wake.rawValue:
            if state.stopRequested { stopSeen = true }
            _ = uring.armWake()
        default:
            break  // a cancel request's own completion
        }
    }

    @inline(__always)
    private func isCurrent(_ tag: UInt64, _ c: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        c.pointee.isOpen && UringLoop.Tag.sameGeneration(tag, c.pointee.generation)
    }

    /// Where a byte enters on io_uring: a receive completion with a buffer
    /// of the ring, handed to the handler in place and returned to the ring
    /// at once unless a send now holds it.
    @inline(__always)
    private func received(_ tag: UInt64, _ result: Int32, _ flags: UInt32, _ uring: UringLoop) {
        let slot = UringLoop.Tag.slot(tag)
        let c = table.slot(slot)
        let more = cnet_uring_cqe_has_more(flags) != 0
        let buffer: UInt16? = cnet_uring_cqe_has_buffer(flags) != 0 ? cnet_uring_cqe_buffer_id(flags) : nil
        if !more {
            c.pointee.uring.receiving = false
            c.pointee.uring.inflight -= 1
        }
        // A draining connection's late bytes are still echoed; any other
        // closing connection takes no more input.
        let drainingRead = draining && c.pointee.closeAfterFlush == CloseReason.shutdown.code && result > 0
        guard isCurrent(tag, c), c.pointee.closeAfterFlush == 0 || drainingRead else {
            if let buffer { uring.returnBuffer(buffer) }
            if !c.pointee.isOpen { releaseSlotIfIdle(slot, c) }
            return
        }
        if result > 0, let buffer {
            io.receivedChunk(c, flags: flags)
            let start = uring.buffer(buffer)
            io.delivering = (buffer, start - Handler.prefixRoom, start + Int(result), false)
            if drainingRead { c.pointee.closeAfterFlush = 0 }
            deliver(slot, c, UnsafeMutableRawBufferPointer(start: start, count: Int(result)))
            if io.delivering?.claimed != true { uring.returnBuffer(buffer) }
            io.delivering = nil
            if drainingRead && c.pointee.isOpen { closeWhenFlushed(slot, c, reason: .shutdown) }
            if !more && c.pointee.isOpen && !c.pointee.readPaused { io.armReceive(slot, c) }
        } else if result == 0 {
            if let buffer { uring.returnBuffer(buffer) }
            endOfInput(slot, c)
        } else if result == -ENOBUFS {
            // The ring ran dry: buffers come back as sends complete; try again next turn.
            if !c.pointee.readPaused { starved.append(slot) }
        } else if result == -ECANCELED {
            // Cancelled for backpressure; output may have drained meanwhile.
            if !more && !c.pointee.readPaused { io.armReceive(slot, c) }
        } else if !io.failed(c, Errno(rawValue: result)) {
            closeFailed(slot, c)
        } else if !more && !c.pointee.readPaused {
            io.armReceive(slot, c)
        }
    }

    @inline(__always)
    private func sent(_ tag: UInt64, _ result: Int32) {
        let slot = UringLoop.Tag.slot(tag)
        let c = table.slot(slot)
        c.pointee.uring.inflight -= 1
        guard isCurrent(tag, c) else {
            c.pointee.uring.sendInFlight = false
            releaseSlotIfIdle(slot, c)
            return
        }
        let allSent = io.sendCompleted(slot, c, result: result)
        outputProgressed(slot, c, allSent: allSent)
    }

    private func armStarvedReceives() {
        guard !starved.isEmpty else { return }
        for slot in starved {
            let c = table.slot(slot)
            if c.pointee.isOpen && !c.pointee.readPaused && c.pointee.closeAfterFlush == 0 { io.armReceive(slot, c) }
        }
        starved.removeAll(keepingCapacity: true)
    }

    // MARK: - Accepting

    private func accepted(_ tag: UInt64, _ result: Int32, _ flags: UInt32) {
        let position = Int(UringLoop.Tag.slot(tag))
        guard position < listeners.count else { return }
        if cnet_uring_cqe_has_more(flags) == 0 { acceptArmed[position] = false }
        if result >= 0 {
            if draining {
                _ = cnet_close(result)
            } else {
                admit(result, peer: StreamWorker.peerAddress(of: result))
            }
        } else {
            switch ErrorTable.acceptAction(for: Errno(rawValue: result)) {
            case .pause:
                shedWhileOutOfDescriptors(Errno(rawValue: result), listenFD: listeners[position])
                return
            case .wait, .skip:
                break
            }
        }
        if !acceptArmed[position] && accepting && !draining { armAccepts() }
    }

    func armAccepts() {
        guard let uring = io.uring else { return }
        for (position, fd) in listeners.enumerated() where !acceptArmed[position] {
            let tag = UringLoop.Tag.make(.accept, slot: Int32(position), generation: 0)
            if cnet_uring_prep_accept_multishot(uring.ring, fd, CNET_NONBLOCK, tag) == 0 {
                acceptArmed[position] = true
            }
        }
    }

    func cancelAccepts() {
        guard let uring = io.uring else { return }
        for position in listeners.indices where acceptArmed[position] {
            let target = UringLoop.Tag.make(.accept, slot: Int32(position), generation: 0)
            _ = cnet_uring_prep_cancel(
                uring.ring, target, 0, UringLoop.Tag.make(.cancel, slot: Int32(position), generation: 0))
        }
    }

    /// Multishot accept does not report the peer: ask the socket (once per
    /// connection, not per message).
    static func peerAddress(of fd: Int32) -> PeerAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return rc == 0 ? PeerAddress(&storage) : PeerAddress()
    }
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// io_uring output: at most one send in flight per connection (ordering),
/// all of a turn's sends submitted together with the loop's one
/// `io_uring_enter`, and no received buffer pinned by a client that does not
/// read — sends use MSG_DONTWAIT, so a full socket answers -EAGAIN at once
/// and the unsent bytes are copied to the connection's own pending buffer.
extension ConnectionIO {
    /// Single-shot receives in a row that left the socket empty before a
    /// connection is trusted with a multishot receive.
    static let drainedReceivesForMultishot: UInt8 = 4

    /// A handler's output on io_uring: the received buffer itself when the
    /// bytes lie in it and nothing is queued ahead (zero copy), else a copy
    /// appended to pending.
    @inline(__always)
    func queueSend(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ bytes: UnsafeRawPointer, _ count: Int) {
        if c.pointee.uring.heldBuffer == 0, c.pointee.pendingCount == 0, !c.pointee.uring.sendInFlight,
            let current = delivering, !current.claimed, bytes >= UnsafeRawPointer(current.start),
            bytes + count <= UnsafeRawPointer(current.end)
        {
            c.pointee.uring.heldBuffer = Int32(current.id) + 1
            c.pointee.uring.heldBase = UnsafeMutableRawPointer(mutating: bytes)
            c.pointee.uring.heldCount = Int32(count)
            delivering!.claimed = true
        } else {
            appendPending(c, bytes, count)
        }
        if !c.pointee.uring.sendQueued && !c.pointee.uring.sendInFlight && !c.pointee.uring.pollArmed {
            c.pointee.uring.sendQueued = true
            sendList.append(slot)
        }
    }

    /// Prepares this turn's sends, one per connection, just before the
    /// submission: nothing can move a pending buffer between the two.
    func prepareSends(_ slot: (Int32) -> UnsafeMutablePointer<ConnectionSlot>) {
        guard let uring else { return }
        for index in sendList {
            let c = slot(index)
            guard c.pointee.uring.sendQueued else { continue }
            c.pointee.uring.sendQueued = false
            guard c.pointee.isOpen, !c.pointee.uring.sendInFlight else { continue }
            let base: UnsafeMutableRawPointer
            let count: Int
            if c.pointee.uring.heldBuffer != 0, let held = c.pointee.uring.heldBase {
                base = held
                count = Int(c.pointee.uring.heldCount)
            } else if let pending = c.pointee.pending, c.pointee.pendingCount > 0 {
                base = pending + Int(c.pointee.pendingOffset)
                count = Int(c.pointee.pendingCount)
            } else {
                continue
            }
            let tag = UringLoop.Tag.make(.send, slot: index, generation: c.pointee.generation)
            if cnet_uring_prep_send_nowait(uring.ring, c.pointee.fd, base, count, tag) == 0 {
                c.pointee.uring.sendInFlight = true
                c.pointee.uring.inflight += 1
            } else {
                // The submission queue is full even after a submit: try next turn.
                c.pointee.uring.sendQueued = true
                sendList.append(index)
                break
            }
        }
        sendList.removeAll(keepingCapacity: true)
    }

    /// A send completed. Returns true when all output has left (the worker
    /// then finishes a waiting close or resumes reading).
    func sendCompleted(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, result: Int32) -> Bool {
        guard let uring else { return false }
        c.pointee.uring.sendInFlight = false
        let held = c.pointee.uring.heldBuffer
        if result == -EAGAIN || (result >= 0 && held != 0 && Int(result) < Int(c.pointee.uring.heldCount)) {
            // The socket is full: keep the rest ourselves and free the shared buffer.
            let taken = max(Int(result), 0)
            if held != 0, let base = c.pointee.uring.heldBase {
                moved(c, taken)
                prependPending(c, base + taken, Int(c.pointee.uring.heldCount) - taken)
                releaseHeld(c)
            } else if taken > 0 {
                moved(c, taken)
                consumePending(c, taken)
            }
            if result == -EAGAIN { armWritable(slot, c, uring) } else { requeue(slot, c) }
            // The client is not taking its output: stop reading it (as epoll
            // does) until everything pending has left.
            c.pointee.uring.pressured = true
            c.pointee.uring.multishot = false
            if !c.pointee.readPaused {
                c.pointee.readPaused = true
                cancelReceive(slot, c)
            }
            return false
        }
        if result < 0 {
            if held != 0 { releaseHeld(c) }
            _ = failed(c, Errno(rawValue: result))
            return false
        }
        moved(c, Int(result))
        if timeoutMs > 0 && result > 0 { idle.touch(slot, at: now) }
        if held != 0 {
            releaseHeld(c)
        } else {
            consumePending(c, Int(result))
        }
        if c.pointee.pendingCount > 0 {
            requeue(slot, c)
            return false
        }
        return true
    }

    /// Returns a zero-copy send's buffer to the ring.
    func releaseHeld(_ c: UnsafeMutablePointer<ConnectionSlot>) {
        guard let uring, c.pointee.uring.heldBuffer != 0 else { return }
        uring.returnBuffer(UInt16(c.pointee.uring.heldBuffer - 1))
        c.pointee.uring.heldBuffer = 0
        c.pointee.uring.heldBase = nil
        c.pointee.uring.heldCount = 0
    }

    func requeue(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        if !c.pointee.uring.sendQueued {
            c.pointee.uring.sendQueued = true
            sendList.append(slot)
        }
    }

    /// Wait (in the kernel) until the socket can take output again.
    private func armWritable(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ uring: UringLoop) {
        let tag = UringLoop.Tag.make(.poll, slot: slot, generation: c.pointee.generation)
        if cnet_uring_prep_poll(uring.ring, c.pointee.fd, CNET_EV_WRITE, 0, tag) == 0 {
            c.pointee.uring.pollArmed = true
            c.pointee.uring.inflight += 1
        } else {
            requeue(slot, c)
        }
    }

    /// The socket can take output again.
    func writableAgain(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        c.pointee.uring.pollArmed = false
        requeue(slot, c)
    }

    /// A receive delivered bytes: count it towards the multishot upgrade
    /// (`CNET_URING_CQE_F_SOCK_NONEMPTY` clear: it left the socket empty).
    @inline(__always)
    func receivedChunk(_ c: UnsafeMutablePointer<ConnectionSlot>, flags: UInt32) {
        guard !c.pointee.uring.multishot, !c.pointee.uring.pressured else { return }
        if flags & CNET_URING_CQE_F_SOCK_NONEMPTY != 0 {
            c.pointee.uring.drainedReceives = 0
        } else {
            c.pointee.uring.drainedReceives += 1
            if c.pointee.uring.drainedReceives >= ConnectionIO.drainedReceivesForMultishot {
                c.pointee.uring.multishot = true
            }
        }
    }

    /// Arm the connection's receive (multishot or single-shot, see
    /// `UringState.multishot`).
    func armReceive(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        guard let uring, !c.pointee.uring.receiving else { return }
        let tag = UringLoop.Tag.make(.receive, slot: slot, generation: c.pointee.generation)
        let prepared =
            c.pointee.uring.multishot
            ? cnet_uring_prep_recv_multishot(uring.ring, c.pointee.fd, uring.buffers, tag)
            : cnet_uring_prep_recv_select(uring.ring, c.pointee.fd, uring.buffers, tag)
        if prepared == 0 {
            c.pointee.uring.receiving = true
            c.pointee.uring.inflight += 1
        }
    }

    /// Stop the multishot receive (backpressure, or closing); its last
    /// completion (-ECANCELED or data) still arrives.
    func cancelReceive(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        guard let uring, c.pointee.uring.receiving else { return }
        let target = UringLoop.Tag.make(.receive, slot: slot, generation: c.pointee.generation)
        _ = cnet_uring_prep_cancel(uring.ring, target, 0, UringLoop.Tag.make(.cancel, slot: slot, generation: 0))
    }

    /// Cancel a POLLOUT wait of a closing connection.
    func cancelWritable(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        guard let uring, c.pointee.uring.pollArmed else { return }
        let target = UringLoop.Tag.make(.poll, slot: slot, generation: c.pointee.generation)
        _ = cnet_uring_prep_cancel(uring.ring, target, 0, UringLoop.Tag.make(.cancel, slot: slot, generation: 0))
    }
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// The load tester on io_uring (SPEC §18: the load tester uses the same
/// backends as the server): a connect is watched by a one-shot poll, each
/// connection has one multishot receive into the loop's provided buffer
/// ring, a message goes out as one send request, and every turn ends in one
/// `io_uring_submit_and_wait` whose timeout is the same next deadline the
/// epoll loop sleeps to. Sessions, schedules, checks and counts are the
/// shared code of LoadTestEngine.swift and LoadTestEngine+RoundTrips.swift.
extension LoadTestEngine {
    /// Receive buffers: 4 KiB each (a larger echo arrives in several,
    /// each checked as it lands), two per slot, at most 8,192.
    static let ringBufferSize = 4 * 1024
    /// A frame's header and first payload bytes go out of the slot's own
    /// scratch, since many slots' sends are in the ring at once.
    static let scratchPerSlot = 1024

    /// The loop until every slot has retired; `run` does the rest.
    func runUring() throws(TrustError) {
        let count = LoadTestEngine.ringBufferCount(slots: share.slots)
        let ring = try UringLoop(
            entries: 4096, bufferCount: count, bufferSize: LoadTestEngine.ringBufferSize, headroom: 0,
            wakeFD: loop.wakeFD)
        uring = ring
        sendScratch = .allocate(byteCount: share.slots * LoadTestEngine.scratchPerSlot, alignment: 16)
        if ring.armWake() != 0 { throw TrustError.system(.noBufferSpace, operation: "io_uring wake-up read") }
        if endOfTurn() { return }
        while retired < share.slots {
            try ring.submitAndWait(timeoutMs: nextTimeout())
            now = MonotonicClock.nanoseconds()
            ring.forEachCompletion { tag, result, flags in complete(tag, result, flags, ring) }
            if endOfTurn() { break }
        }
    }

    /// A power of two: twice the slots, within 64...8,192.
    static func ringBufferCount(slots: Int) -> UInt32 {
        var count: UInt32 = 64
        while count < 8192 && Int(count) < slots * 2 { count <<= 1 }
        return count
    }

    @inline(__always)
    private func complete(_ tag: UInt64, _ result: Int32, _ flags: UInt32, _ ring: UringLoop) {
        let s = Int(UringLoop.Tag.slot(tag))
        switch UringLoop.Tag.kind(tag) {
        case UringLoop.Kind.receive.rawValue:
            receiveCompleted(s, tag, result, flags, ring)
        case UringLoop.Kind.send.rawValue:
            guard isCurrent(s, tag) else { return }
            slots[s].sending = false
            sendCompleted(s, Int(result))
        case UringLoop.Kind.poll.rawValue:
            guard isCurrent(s, tag) else { return }
            slots[s].polling = false
            if slots[s].phase == .connecting { connected(s) }
        case UringLoop.Kind.wake.rawValue:
            _ = ring.armWake()
        default:
            break  // a cancel request's own completion
        }
    }

    /// The completion is for the slot's connection now, not an earlier one.
    @inline(__always)
    private func isCurrent(_ s: Int, _ tag: UInt64) -> Bool {
        s >= 0 && s < share.slots && slots[s].phase != .free && UringLoop.Tag.sameGeneration(tag, slots[s].generation)
    }

    /// A receive completion: its buffer goes back to the ring whatever
    /// happens (also for a connection that has since closed); the bytes
    /// are checked as on epoll.
    @inline(__always)
    private func receiveCompleted(_ s: Int, _ tag: UInt64, _ result: Int32, _ flags: UInt32, _ ring: UringLoop) {
        let buffer: UInt16? = cnet_uring_cqe_has_buffer(flags) != 0 ? cnet_uring_cqe_buffer_id(flags) : nil
        defer { if let buffer { ring.returnBuffer(buffer) } }
        guard isCurrent(s, tag) else { return }
        let more = cnet_uring_cqe_has_more(flags) != 0
        if !more { slots[s].receiving = false }
        if result == -ENOBUFS {
            // Every buffer was taken at once; they come back as their bytes
            // are checked, so asking again next turn finds one.
            armReceive(s, ring)
            return
        }
        if result > 0, let buffer {
            let generation = slots[s].generation
            received(s, ring.buffer(buffer), Int(result))
            if !more && slots[s].phase != .free && slots[s].generation == generation { armReceive(s, ring) }
            return
        }
        received(s, receiveBuffer, Int(result))  // 0: end of stream, < 0: -errno; no bytes read
    }

    func watchConnect(_ s: Int, _ ring: UringLoop) {
        slots[s].polling = true
        _ = cnet_uring_prep_poll(
            ring.ring, slots[s].fd, CNET_EV_WRITE, 0,
            UringLoop.Tag.make(.poll, slot: Int32(s), generation: slots[s].generation))
    }

    func armReceive(_ s: Int, _ ring: UringLoop) {
        guard !slots[s].receiving else { return }
        slots[s].receiving = true
        _ = cnet_uring_prep_recv_multishot(
            ring.ring, slots[s].fd, ring.buffers,
            UringLoop.Tag.make(.receive, slot: Int32(s), generation: slots[s].generation))
    }

    /// Queues the next part of the message (one send in flight per slot:
    /// two could complete out of order). `sent` counts it at once, so an
    /// echo that completes before the send's own completion is in range.
    func submitSend(_ s: Int, _ ring: UringLoop) {
        guard !slots[s].sending, slots[s].sent < messageLength, let sendScratch else { return }
        let chunk = messages.chunk(
            offset: slots[s].offset, sent: slots[s].sent, scratch: sendScratch + s * LoadTestEngine.scratchPerSlot,
            capacity: LoadTestEngine.scratchPerSlot)
        slots[s].sending = true
        slots[s].sendLength = chunk.count
        slots[s].sent += chunk.count
        _ = cnet_uring_prep_send(
            ring.ring, slots[s].fd, chunk.bytes, chunk.count,
            UringLoop.Tag.make(.send, slot: Int32(s), generation: slots[s].generation))
    }

    /// A send's completion: bytes the kernel took, or -errno.
    private func sendCompleted(_ s: Int, _ n: Int) {
        if n < 0 {
            slots[s].sent -= slots[s].sendLength
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
            serverEnded(s, LoadFailureKind.ofTransfer(errno), "send: \(errno.description)", errno: errno)
            return
        }
        tally.bytesSent &+= UInt64(n)
        slots[s].sent -= slots[s].sendLength - n
        if let uring, slots[s].phase == .inFlight, slots[s].sent < messageLength { submitSend(s, uring) }
    }

    /// Before the descriptor closes: cancel what the ring holds for it, and
    /// submit now, so no queued request meets the number after close()
    /// frees it for the next connection (the ring resolves descriptors
    /// when it takes a request, and holds the socket open until then).
    func cancelRequests(_ s: Int, _ ring: UringLoop) {
        let generation = slots[s].generation
        var queued = false
        for (kind, held) in [
            (UringLoop.Kind.receive, slots[s].receiving), (.poll, slots[s].polling), (.send, slots[s].sending),
        ]
        where held {
            _ = cnet_uring_prep_cancel(
                ring.ring, UringLoop.Tag.make(kind, slot: Int32(s), generation: generation), 1,
                UringLoop.Tag.make(.cancel, slot: Int32(s), generation: generation))
            queued = true
        }
        slots[s].receiving = false
        slots[s].polling = false
        slots[s].sending = false
        if queued || cnet_uring_sq_pending(ring.ring) > 0 { _ = cnet_uring_submit(ring.ring) }
    }
}

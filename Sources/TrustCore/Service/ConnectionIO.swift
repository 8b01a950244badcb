import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The part of a worker that moves output: sends, pending output and its
/// flush, activity for the idle list. It does not depend on the handler type,
/// so `StreamConnection` (what handlers call) is one concrete type for all.
///
/// Backpressure: output the kernel does not take is copied to the
/// connection's `pending` buffer and sent when the socket can take more;
/// later output is appended behind it, so order is kept. On epoll a
/// connection is not read while anything is pending (pending is then at most
/// what the handler produced from one 64 KiB read); on io_uring reading stops
/// too, and what the multishot receive had already taken in that turn (at
/// most 32 ring buffers, 128 KiB) is the bound.
final class ConnectionIO {
    let loop: EventLoop
    let state: ServiceState
    let counters: WorkerCounters
    let logger: Logger
    let debugEnabled: Bool
    let timeoutMs: Int64
    var idle: IdleList
    var now: Int64 = 0

    /// Set while the worker runs on io_uring; nil on epoll.
    var uring: UringLoop?
    /// Set when the service speaks TLS (`ConnectionIO+TLS.swift`).
    var tls: WorkerTLS?
    /// io_uring: connections with output to submit this turn.
    var sendList: [Int32] = []
    /// io_uring: the received buffer being delivered now, which a send may
    /// use in place (and keep until the send completes).
    var delivering: (id: UInt16, start: UnsafeMutableRawPointer, end: UnsafeMutableRawPointer, claimed: Bool)?

    init(loop: EventLoop, state: ServiceState, logger: Logger, timeoutMs: Int64, capacity: Int) {
        self.loop = loop
        self.state = state
        self.counters = WorkerCounters()
        self.logger = logger
        self.debugEnabled = logger.logLevel <= .debug
        self.timeoutMs = timeoutMs
        self.idle = IdleList(capacity: capacity)
        sendList.reserveCapacity(1024)
    }

    /// A handler's output: encrypted first on a TLS connection, then `sendRaw`.
    @inline(__always)
    func send(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ bytes: UnsafeRawPointer, _ count: Int)
        -> Bool
    {
        if let conn = c.pointee.tls { return tlsSend(c, conn, bytes, count) }
        return sendRaw(slot, c, bytes, count)
    }

    /// Where a byte leaves. epoll: one send(MSG_NOSIGNAL), or behind output
    /// that is already waiting. io_uring: queued for this turn's submission.
    /// Returns false if the connection has failed.
    @inline(__always)
    func sendRaw(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>, _ bytes: UnsafeRawPointer, _ count: Int)
        -> Bool
    {
        if c.pointee.failure != 0 { return false }
        if uring != nil {
            queueSend(slot, c, bytes, count)
            return true
        }
        if c.pointee.pendingCount > 0 {
            appendPending(c, bytes, count)
            return true
        }
        let fd = c.pointee.fd
        let sent = cnet_send(fd, bytes, count)
        if sent == count {
            moved(c, count)
            return true
        }
        if sent < 0 && sent != -Int(EAGAIN) && !failed(c, Errno(rawValue: Int32(truncatingIfNeeded: sent))) {
            return false
        }
        let taken = max(sent, 0)
        moved(c, taken)
        appendPending(c, bytes + taken, count - taken)
        c.pointee.readPaused = true
        _ = loop.modify(fd, .write, token: EventLoop.Token.make(slot: slot, generation: c.pointee.generation))
        return true
    }

    @inline(__always)
    func moved(_ c: UnsafeMutablePointer<ConnectionSlot>, _ count: Int) {
        c.pointee.bytesOut &+= UInt64(count)
        counters.add(.bytesOut, UInt64(count))
    }

    /// Records a failed send or receive; the worker closes the connection
    /// once the handler's call returns. False if the connection is now
    /// failing (true only for an errno that means "try again").
    func failed(_ c: UnsafeMutablePointer<ConnectionSlot>, _ errno: Errno) -> Bool {
        switch ErrorTable.connectionAction(for: errno) {
        case .retry:
            return true
        case .close(let reasonName):
            if c.pointee.failure == 0 {
                c.pointee.failure = reasonName == "reset" ? CloseReason.reset.code : CloseReason.error.code
                c.pointee.failureErrno = errno.rawValue
            }
            return false
        }
    }

    // MARK: - Pending output

    /// Appends to the connection's pending buffer, growing it by doubling.
    func appendPending(_ c: UnsafeMutablePointer<ConnectionSlot>, _ bytes: UnsafeRawPointer, _ count: Int) {
        reservePending(c, count)
        let end = c.pointee.pending! + Int(c.pointee.pendingOffset) + Int(c.pointee.pendingCount)
        end.copyMemory(from: bytes, byteCount: count)
        c.pointee.pendingCount += Int32(count)
    }

    /// Puts bytes in front of what is pending (the unsent rest of a
    /// zero-copy send goes out before anything queued after it).
    func prependPending(_ c: UnsafeMutablePointer<ConnectionSlot>, _ bytes: UnsafeRawPointer, _ count: Int) {
        let live = Int(c.pointee.pendingCount)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(live + count, 4096), alignment: 16)
        buffer.copyMemory(from: bytes, byteCount: count)
        if let old = c.pointee.pending {
            (buffer + count).copyMemory(from: old + Int(c.pointee.pendingOffset), byteCount: live)
            old.deallocate()
        }
        c.pointee.pending = buffer
        c.pointee.pendingOffset = 0
        c.pointee.pendingCount = Int32(live + count)
        c.pointee.pendingCapacity = Int32(max(live + count, 4096))
    }

    /// Room for `count` more bytes at the end of pending.
    private func reservePending(_ c: UnsafeMutablePointer<ConnectionSlot>, _ count: Int) {
        let used = Int(c.pointee.pendingOffset) + Int(c.pointee.pendingCount)
        let capacity = Int(c.pointee.pendingCapacity)
        guard used + count > capacity else { return }
        let live = Int(c.pointee.pendingCount)
        let needed = live + count
        precondition(needed <= Int(Int32.max), "pending output over 2 GiB")
        let newCapacity = min(max(needed, capacity * 2, 4096), Int(Int32.max))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let old = c.pointee.pending {
            buffer.copyMemory(from: old + Int(c.pointee.pendingOffset), byteCount: live)
            old.deallocate()
        }
        c.pointee.pending = buffer
        c.pointee.pendingOffset = 0
        c.pointee.pendingCapacity = Int32(newCapacity)
    }

    /// Drops `count` sent bytes from the front of pending; frees the buffer
    /// once it is empty.
    func consumePending(_ c: UnsafeMutablePointer<ConnectionSlot>, _ count: Int) {
        c.pointee.pendingOffset += Int32(count)
        c.pointee.pendingCount -= Int32(count)
        if c.pointee.pendingCount == 0 { releasePending(c) }
    }

    /// epoll: the client reads again: send pending output. Returns true once
    /// all of it is out (the buffer is freed and reads resume, unless a close
    /// is waiting for the flush — the worker handles that).
    func flush(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        guard let pending = c.pointee.pending, c.pointee.pendingCount > 0 else { return true }
        let fd = c.pointee.fd
        let count = Int(c.pointee.pendingCount)
        let sent = cnet_send(fd, pending + Int(c.pointee.pendingOffset), count)
        if sent < 0 {
            if sent != -Int(EAGAIN) { _ = failed(c, Errno(rawValue: Int32(truncatingIfNeeded: sent))) }
            return false
        }
        moved(c, sent)
        if timeoutMs > 0 && sent > 0 { idle.touch(slot, at: now) }
        consumePending(c, sent)
        if sent < count { return false }
        if c.pointee.closeAfterFlush == 0 {
            c.pointee.readPaused = false
            _ = loop.modify(fd, .read, token: EventLoop.Token.make(slot: slot, generation: c.pointee.generation))
        }
        return true
    }

    func releasePending(_ c: UnsafeMutablePointer<ConnectionSlot>) {
        c.pointee.pending?.deallocate()
        c.pointee.pending = nil
        c.pointee.pendingOffset = 0
        c.pointee.pendingCount = 0
        c.pointee.pendingCapacity = 0
    }
}

import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One event loop thread of the echo server. It owns its connections from
/// accept to close; nothing it touches is shared except the listening socket
/// (registered with EPOLLEXCLUSIVE in every worker's loop) and the atomics
/// in `EchoServerState`.
///
/// The byte path: `readable` receives into the loop's one read buffer,
/// `echo` hands the bytes that may be echoed to `send`, and what the kernel
/// would not take waits in the connection's `pending` buffer while reads
/// are paused, until `writable` flushes it.
final class EchoWorker {
    /// Bytes read per recv. Also the bound on pending output per connection.
    static let readCapacity = 64 * 1024
    /// Room before the read area, so up to 3 held header bytes can be put
    /// in front of a chunk and echoed with it in one send.
    static let prefixRoom = 4
    static let listenerToken: UInt64 = .max - 1
    /// How long accepting stays off after running out of descriptors.
    static let acceptPauseMs: Int64 = 100
    static let acceptBatch = 64
    /// Idle connections closed per loop pass. When thousands expire at the
    /// same moment (opened together, silent together), closing them all in
    /// one pass would stall every other client of the worker for tens of
    /// milliseconds; in batches, ready events are served in between (the
    /// loop does not sleep while the oldest connection is overdue).
    static let expireBatch = 64

    let index: Int
    let loop: EventLoop
    let listenFD: Int32
    let options: EchoServer.Options
    let state: EchoServerState
    var logger: Logger
    let debugEnabled: Bool

    private let table: ConnectionTable
    private var idle: IdleList
    private let readBase: UnsafeMutableRawPointer
    private var now: Int64 = 0
    private let timeoutMs: Int64
    private let drainTimeoutMs: Int64

    private var spareFD: Int32 = -1
    private var accepting = true
    private var acceptResumeAt: Int64 = 0
    private var acceptPausedLog = RepeatLimiter(intervalMs: 1000)
    private var draining = false
    private var drainDeadline: Int64 = 0

    // Totals, read by the coordinator after the thread has been joined.
    private(set) var totals = EchoTotals()

    init(index: Int, listenFD: Int32, options: EchoServer.Options, state: EchoServerState, logger: Logger)
        throws(TrustError)
    {
        self.index = index
        self.listenFD = listenFD
        self.options = options
        self.state = state
        self.logger = logger
        self.debugEnabled = logger.logLevel <= .debug
        self.loop = try EventLoop()
        self.table = ConnectionTable(capacity: options.descriptorLimit)
        self.idle = IdleList(capacity: options.descriptorLimit)
        self.readBase = .allocate(byteCount: EchoWorker.prefixRoom + EchoWorker.readCapacity, alignment: 16)
        self.timeoutMs = Int64((options.idleTimeout * 1000).rounded(.up))
        self.drainTimeoutMs = Int64((options.drainTimeout * 1000).rounded(.up))
        self.spareFD = EchoWorker.openSpare()
        if let errno = loop.add(listenFD, [.read, .exclusive], token: EchoWorker.listenerToken) {
            throw TrustError.system(errno, operation: "epoll_ctl(listener)")
        }
    }

    deinit {
        readBase.deallocate()
        if spareFD >= 0 { _ = cnet_close(spareFD) }
    }

    /// A descriptor held in reserve so that, out of descriptors, the worker
    /// can still accept one pending connection and close it cleanly.
    private static func openSpare() -> Int32 {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    // MARK: - The loop

    func run() {
        now = MonotonicClock.coarseMilliseconds()
        while true {
            let ready = loop.wait(timeoutMs: nextTimeout())
            now = MonotonicClock.coarseMilliseconds()
            for i in 0..<ready {
                let token = loop.token(at: i)
                if token == EchoWorker.listenerToken {
                    acceptConnections()
                } else if token == EventLoop.wakeToken {
                    loop.drainWakeups()
                    if state.stopRequested && !draining { beginDrain() }
                } else {
                    service(token: token, events: loop.events(at: i))
                }
            }
            if timeoutMs > 0 { expireIdle() }
            if !accepting && !draining && now >= acceptResumeAt { resumeAccepting() }
            if draining && (idle.count == 0 || now >= drainDeadline) {
                closeAll(reason: .shutdown)
                return
            }
        }
    }

    /// Sleep until the oldest connection's deadline, the accept pause's end,
    /// or the drain deadline, whichever is first.
    private func nextTimeout() -> Int32 {
        var deadline = Int64.max
        if timeoutMs > 0 && idle.head >= 0 {
            deadline = idle.lastActivity(of: idle.head) + timeoutMs
        }
        if !accepting && !draining { deadline = min(deadline, acceptResumeAt) }
        if draining { deadline = min(deadline, drainDeadline) }
        if deadline == .max { return -1 }
        // +1: the coarse clock must have passed the deadline when we wake.
        return Int32(clamping: max(0, deadline - now + 1))
    }

    // MARK: - Accepting

    private func acceptConnections() {
        for _ in 0..<EchoWorker.acceptBatch {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = cnet_accept(listenFD, &peer, &length)
            if fd < 0 {
                let errno = Errno(rawValue: fd)
                switch ErrorTable.acceptAction(for: errno) {
                case .wait: return
                case .skip: continue
                case .pause:
                    shedWhileOutOfDescriptors(errno)
                    return
                }
            }
            admit(fd, peer: &peer)
        }
    }

    private func admit(_ fd: Int32, peer storage: inout sockaddr_storage) {
        let peer = PeerAddress(&storage)
        // Every accepted connection gets an id, a refused one too: SPEC §10
        // gives every connection event a request_id.
        let serial = state.nextSerial.add(1, ordering: .relaxed).newValue
        let active = state.activeClients.add(1, ordering: .relaxed).newValue
        // The table holds the descriptor limit read at start; a descriptor
        // beyond it (the limit was raised from outside) cannot be tracked.
        let overLimit = Int(fd) >= table.capacity
        if active > options.maxClients || overLimit {
            state.activeClients.subtract(1, ordering: .relaxed)
            _ = cnet_close(fd)
            totals.refused += 1
            logger.info(
                "connection_refused",
                metadata: [
                    "request_id": "\(state.requestID(serial))", "peer": "\(peer.formatted)",
                    "reason": overLimit ? "fd_limit" : "max_clients",
                    "max_clients": .stringConvertible(options.maxClients),
                ])
            return
        }
        _ = cnet_set_nodelay(fd, 1)
        let c = table.slot(fd)
        c.pointee = Connection(
            generation: c.pointee.generation, isOpen: true,
            mode: options.mode == .raw ? .raw : (options.mode == .framed ? .framed : .undecided),
            readPaused: false, closeAfterFlush: .none, scanner: FrameScanner(maxFrame: options.maxFrame),
            pending: nil, pendingOffset: 0, pendingCount: 0, bytesIn: 0, bytesOut: 0,
            serial: serial, acceptedAt: now, rejectedLength: 0, peer: peer)
        if let errno = loop.add(fd, .read, token: EventLoop.Token.make(slot: fd, generation: c.pointee.generation)) {
            c.pointee.isOpen = false
            state.activeClients.subtract(1, ordering: .relaxed)
            _ = cnet_close(fd)
            logger.warning(
                "connection_refused",
                metadata: [
                    "request_id": "\(state.requestID(serial))", "peer": "\(peer.formatted)", "reason": "error",
                    "errno": "\(errno.name)",
                ])
            return
        }
        idle.append(fd, at: now)
        totals.accepted += 1
        logger.info(
            "connection_accepted",
            metadata: [
                "request_id": "\(state.requestID(serial))", "peer": "\(peer.formatted)",
                "worker": .stringConvertible(index),
            ])
    }

    /// Out of descriptors (or kernel memory): give the spare descriptor up
    /// to accept one pending connection and close it at once, so that client
    /// is not left hanging, then stop accepting for a moment. The listener
    /// stays readable while connections are pending, so retrying at once
    /// would spin; the pause bounds the CPU spent while descriptors are short.
    private func shedWhileOutOfDescriptors(_ errno: Errno) {
        var shed = 0
        if spareFD >= 0 {
            _ = cnet_close(spareFD)
            let fd = cnet_accept(listenFD, nil, nil)
            if fd >= 0 {
                _ = cnet_close(fd)
                shed = 1
            }
            spareFD = EchoWorker.openSpare()
        }
        totals.shed += shed
        pauseAccepting()
        let (allowed, suppressed) = acceptPausedLog.allow(now: now)
        if allowed {
            logger.warning(
                "accept_paused",
                metadata: [
                    "errno": "\(errno.name)", "shed": .stringConvertible(shed),
                    "pause_ms": .stringConvertible(EchoWorker.acceptPauseMs),
                    "suppressed": .stringConvertible(suppressed), "worker": .stringConvertible(index),
                ])
        }
    }

    private func pauseAccepting() {
        if accepting {
            loop.remove(listenFD)
            accepting = false
        }
        acceptResumeAt = now + EchoWorker.acceptPauseMs
    }

    private func resumeAccepting() {
        if loop.add(listenFD, [.read, .exclusive], token: EchoWorker.listenerToken) == nil {
            accepting = true
            if spareFD < 0 { spareFD = EchoWorker.openSpare() }
        } else {
            acceptResumeAt = now + EchoWorker.acceptPauseMs
        }
    }

    // MARK: - Connection events

    @inline(__always)
    private func service(token: UInt64, events: EventLoop.Events) {
        let fd = EventLoop.Token.slot(token)
        let c = table.slot(fd)
        guard c.pointee.isOpen, c.pointee.generation == EventLoop.Token.generation(token) else { return }
        if c.pointee.pendingCount > 0 {
            writable(fd, c)
        } else if !c.pointee.readPaused {
            readable(fd, c)
        }
    }

    /// Where a byte enters: one recv into the loop's read buffer. Level
    /// triggering brings us back if more is waiting, so one recv per event
    /// keeps every connection's turn short and saves the EAGAIN round.
    @inline(__always)
    private func readable(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>) {
        let chunk = readBase + EchoWorker.prefixRoom
        let n = cnet_recv(fd, chunk, EchoWorker.readCapacity)
        if n > 0 {
            c.pointee.bytesIn &+= UInt64(n)
            if timeoutMs > 0 { idle.touch(fd, at: now) }
            echo(fd, c, chunk, n)
        } else if n == 0 {
            endOfStream(fd, c)
        } else if n != -Int(EAGAIN) {
            failed(fd, c, Errno(rawValue: Int32(truncatingIfNeeded: n)))
        }
    }

    /// Decide what of a received chunk is echoed. Raw: all of it. Framed:
    /// what the scanner releases (cut-through: a valid frame's echo is its
    /// own bytes, so nothing is buffered beyond at most 3 header bytes).
    @inline(__always)
    private func echo(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>, _ chunk: UnsafeMutableRawPointer, _ n: Int) {
        if c.pointee.mode == .undecided {
            c.pointee.mode = chunk.load(as: UInt8.self) == 0 ? .framed : .raw
        }
        if c.pointee.mode == .raw {
            send(fd, c, chunk, n)
            return
        }
        let result: FrameScanResult
        if debugEnabled {
            result = scanLoggingFrames(c, chunk, n)
        } else {
            result = c.pointee.scanner.scan(UnsafeRawBufferPointer(start: chunk, count: n))
        }
        let start = chunk - result.heldPrefixCount
        if result.heldPrefixCount > 0 { FrameScanner.writeHeldPrefix(result, before: chunk) }
        let count = result.heldPrefixCount + result.echoCount
        if count > 0 && !send(fd, c, start, count) { return }
        if let declared = result.oversizeLength {
            c.pointee.rejectedLength = declared
            closeWhenFlushed(fd, c, reason: .frameTooLarge)
        }
    }

    private func scanLoggingFrames(_ c: UnsafeMutablePointer<Connection>, _ chunk: UnsafeMutableRawPointer, _ n: Int)
        -> FrameScanResult
    {
        let before = c.pointee.scanner.framesCompleted
        let result = c.pointee.scanner.scan(UnsafeRawBufferPointer(start: chunk, count: n))
        let after = c.pointee.scanner.framesCompleted
        if after > before {
            logger.debug(
                "frame_echoed",
                metadata: [
                    "request_id": "\(state.requestID(c.pointee.serial))", "peer": "\(c.pointee.peer.formatted)",
                    "frames": .stringConvertible(after - before),
                ])
        }
        return result
    }

    /// Where a byte leaves: one send(MSG_NOSIGNAL). What the kernel does not
    /// take is copied to `pending`, reads pause and the loop waits for
    /// writability instead (backpressure). Returns false if it closed.
    @inline(__always)
    @discardableResult
    private func send(
        _ fd: Int32, _ c: UnsafeMutablePointer<Connection>, _ bytes: UnsafeMutableRawPointer, _ count: Int
    )
        -> Bool
    {
        let sent = cnet_send(fd, bytes, count)
        if sent == count {
            c.pointee.bytesOut &+= UInt64(count)
            return true
        }
        if sent < 0 && sent != -Int(EAGAIN) {
            failed(fd, c, Errno(rawValue: Int32(truncatingIfNeeded: sent)))
            return false
        }
        let moved = max(sent, 0)
        c.pointee.bytesOut &+= UInt64(moved)
        holdPending(fd, c, bytes + moved, count - moved)
        return true
    }

    private func holdPending(
        _ fd: Int32, _ c: UnsafeMutablePointer<Connection>, _ bytes: UnsafeMutableRawPointer, _ count: Int
    ) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 1)
        buffer.copyMemory(from: bytes, byteCount: count)
        c.pointee.pending = buffer
        c.pointee.pendingOffset = 0
        c.pointee.pendingCount = Int32(count)
        c.pointee.readPaused = true
        _ = loop.modify(fd, .write, token: EventLoop.Token.make(slot: fd, generation: c.pointee.generation))
    }

    /// The client reads again: flush pending echoes; once all are out,
    /// resume reading (or finish a close that was waiting for them).
    private func writable(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>) {
        guard let pending = c.pointee.pending else { return }
        let offset = Int(c.pointee.pendingOffset)
        let count = Int(c.pointee.pendingCount)
        let sent = cnet_send(fd, pending + offset, count)
        if sent < 0 {
            if sent != -Int(EAGAIN) { failed(fd, c, Errno(rawValue: Int32(truncatingIfNeeded: sent))) }
            return
        }
        c.pointee.bytesOut &+= UInt64(sent)
        if timeoutMs > 0 && sent > 0 { idle.touch(fd, at: now) }
        if sent < count {
            c.pointee.pendingOffset = Int32(offset + sent)
            c.pointee.pendingCount = Int32(count - sent)
            return
        }
        pending.deallocate()
        c.pointee.pending = nil
        c.pointee.pendingOffset = 0
        c.pointee.pendingCount = 0
        if c.pointee.closeAfterFlush != .none {
            close(fd, c, reason: c.pointee.closeAfterFlush)
            return
        }
        c.pointee.readPaused = false
        _ = loop.modify(fd, .read, token: EventLoop.Token.make(slot: fd, generation: c.pointee.generation))
    }

    /// The client half-closed: echo what is still pending, then close.
    private func endOfStream(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>) {
        let reason: CloseReason =
            c.pointee.mode == .framed && c.pointee.scanner.isMidFrame ? .truncatedFrame : .peerClosed
        closeWhenFlushed(fd, c, reason: reason)
    }

    private func closeWhenFlushed(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>, reason: CloseReason) {
        if c.pointee.pendingCount == 0 {
            close(fd, c, reason: reason)
        } else {
            c.pointee.closeAfterFlush = reason
        }
    }

    private func failed(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>, _ errno: Errno) {
        switch ErrorTable.connectionAction(for: errno) {
        case .retry:
            return
        case .close(let reasonName):
            close(fd, c, reason: reasonName == "reset" ? .reset : .error, errno: errno)
        }
    }

    // MARK: - Closing

    private func close(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>, reason: CloseReason, errno: Errno? = nil) {
        // First: once the close is observable (the log line, the client's
        // EOF), the --max-clients slot must already be free, or a client
        // connecting right after it is refused by another worker.
        state.activeClients.subtract(1, ordering: .relaxed)
        let frames = c.pointee.scanner.framesCompleted
        totals.bytesIn &+= c.pointee.bytesIn
        totals.bytesOut &+= c.pointee.bytesOut
        totals.frames &+= frames
        totals.closed += 1
        var metadata: Logger.Metadata = [
            "request_id": "\(state.requestID(c.pointee.serial))",
            "peer": "\(c.pointee.peer.formatted)",
            "reason": "\(reason.name)",
            "frames": .stringConvertible(frames),
            "bytes_in": .stringConvertible(c.pointee.bytesIn),
            "bytes_out": .stringConvertible(c.pointee.bytesOut),
            "duration_ms": .stringConvertible(max(0, now - c.pointee.acceptedAt)),
        ]
        if let errno { metadata["errno"] = "\(errno.name)" }
        if reason == .frameTooLarge {
            metadata["declared_size"] = .stringConvertible(c.pointee.rejectedLength)
            metadata["max_frame"] = .stringConvertible(options.maxFrame)
        }
        logger.info("connection_closed", metadata: metadata)

        if let pending = c.pointee.pending { pending.deallocate() }
        c.pointee.pending = nil
        c.pointee.pendingCount = 0
        c.pointee.isOpen = false
        c.pointee.generation &+= 1
        idle.remove(fd)
        _ = cnet_close(fd)
    }

    /// Close connections whose last activity is older than the timeout:
    /// from the head of the idle list, stopping at the first one still
    /// within it, at most `expireBatch` per pass.
    private func expireIdle() {
        for _ in 0..<EchoWorker.expireBatch {
            guard idle.head >= 0 else { return }
            let fd = idle.head
            if idle.lastActivity(of: fd) + timeoutMs > now { return }
            let c = table.slot(fd)
            close(fd, c, reason: c.pointee.pendingCount > 0 ? .sendTimeout : .idleTimeout)
        }
    }

    // MARK: - Graceful shutdown

    /// Stop accepting; echo what each client has already sent (what is in
    /// the kernel's receive queue now), then close each connection once its
    /// echoes are out. The loop ends when all are closed or at the deadline.
    private func beginDrain() {
        draining = true
        drainDeadline = now + drainTimeoutMs
        if accepting {
            loop.remove(listenFD)
            accepting = false
        }
        // A snapshot: echoing moves slots within the idle list.
        var open: [Int32] = []
        open.reserveCapacity(idle.count)
        var fd = idle.head
        while fd >= 0 {
            open.append(fd)
            fd = idle.successor(of: fd)
        }
        for fd in open {
            let c = table.slot(fd)
            drainReceived(fd, c)
            if c.pointee.isOpen { closeWhenFlushed(fd, c, reason: .shutdown) }
        }
    }

    private func drainReceived(_ fd: Int32, _ c: UnsafeMutablePointer<Connection>) {
        // Bounded: a client streaming faster than we echo cannot hold the
        // drain forever; the deadline closes what is left.
        for _ in 0..<64 {
            guard c.pointee.isOpen, !c.pointee.readPaused, c.pointee.closeAfterFlush == .none else { return }
            let before = c.pointee.bytesIn
            readable(fd, c)
            if c.pointee.bytesIn == before { return }
        }
    }

    private func closeAll(reason: CloseReason) {
        while idle.head >= 0 {
            let fd = idle.head
            totals.forcedCloses += table.slot(fd).pointee.pendingCount > 0 ? 1 : 0
            close(fd, table.slot(fd), reason: reason)
        }
    }
}

/// What one worker did, summed into `server_stopped`.
struct EchoTotals {
    var accepted = 0
    var closed = 0
    var refused = 0
    var shed = 0
    var forcedCloses = 0
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
    var frames: UInt64 = 0

    mutating func add(_ other: EchoTotals) {
        accepted += other.accepted
        closed += other.closed
        refused += other.refused
        shed += other.shed
        forcedCloses += other.forcedCloses
        bytesIn &+= other.bytesIn
        bytesOut &+= other.bytesOut
        frames &+= other.frames
    }
}

/// At most one event per interval; counts what it held back so the next
/// allowed line can say how many were suppressed. Bounds log volume when a
/// condition repeats under attack.
struct RepeatLimiter {
    let intervalMs: Int64
    private var last: Int64 = .min
    private var suppressed = 0

    init(intervalMs: Int64) { self.intervalMs = intervalMs }

    mutating func allow(now: Int64) -> (allowed: Bool, suppressed: Int) {
        if last != .min && now - last < intervalMs {
            suppressed += 1
            return (false, suppressed)
        }
        let count = suppressed
        last = now
        suppressed = 0
        return (true, count)
    }
}

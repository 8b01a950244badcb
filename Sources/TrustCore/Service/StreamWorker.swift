import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One event-loop thread of a `StreamService`. It owns its connections from
/// accept to close; it shares only the listening sockets (registered with
/// EPOLLEXCLUSIVE in every worker's loop, so one worker wakes per
/// connection) and `ServiceState`'s atomics.
///
/// The byte path: `readable` receives into the worker's one read buffer,
/// `deliver` hands the bytes to the handler, which answers through
/// `StreamConnection.send` (`ConnectionIO.send`); what the kernel would not
/// take waits in the connection's pending buffer while reads are paused,
/// until `writable` flushes it.
final class StreamWorker<Handler: StreamHandler> {
    /// Bytes read per recv.
    static var readCapacity: Int { 64 * 1024 }
    /// How long accepting stays off after running out of descriptors.
    static var acceptPauseMs: Int64 { 100 }
    static var acceptBatch: Int { 64 }
    /// Idle connections closed per loop pass. When thousands expire at the
    /// same moment (opened together, silent together), closing them all in
    /// one pass would stall every other client of the worker for tens of
    /// milliseconds; in batches, ready events are served in between (the
    /// loop does not sleep while the oldest connection is overdue).
    static var expireBatch: Int { 64 }

    let index: Int
    let handler: Handler
    let options: ServiceOptions
    let listeners: [Int32]
    let io: ConnectionIO
    let table: ConnectionTable<Handler.Session>
    let reasons: CloseReasonTable
    var loop: EventLoop { io.loop }
    var state: ServiceState { io.state }
    var logger: Logger { io.logger }

    private let readBase: UnsafeMutableRawPointer
    /// Where each recv lands: `Handler.prefixRoom` bytes into `readBase`.
    let readBuffer: UnsafeMutableRawPointer
    private let drainTimeoutMs: Int64

    var spareFD: Int32 = -1
    var accepting = true
    var acceptResumeAt: Int64 = 0
    var acceptPausedLog = LogRateLimiter(intervalMs: 1000)
    private(set) var draining = false
    private var drainDeadline: Int64 = 0

    /// io_uring: slots free to hand out (epoll uses the descriptor number).
    var freeSlots: [Int32] = []
    /// io_uring: connections whose receive ran out of ring buffers.
    var starved: [Int32] = []
    /// io_uring: listeners whose multishot accept must be armed again.
    var acceptArmed: [Bool] = []
    /// io_uring: a stop was seen in this batch of completions.
    var stopSeen = false

    /// PROXY protocol: connections whose header is still awaited, by slot.
    /// A side table rather than slot fields: a parser's few hundred bytes
    /// exist only while its header is on the way, not for every connection.
    var proxyPending: [Int32: PendingProxyHeader] = [:]
    /// No pending header is due before this (may be early after removals).
    var proxyEarliestDeadline = Int64.max
    /// PROXY protocol: the balancer's address of each relayed connection, for `proxied_by`.
    var proxiedBy: [Int32: PeerAddress] = [:]

    /// io_uring buffer ring: buffers of this size, shared by the worker's
    /// connections; a buffer is back in the ring as soon as its bytes are
    /// sent or copied. 4 KiB because a multishot receive may fill up to 32
    /// buffers in one turn before a pause takes effect (the kernel's
    /// MULTISHOT_MAX_RETRY): that burst, 128 KiB, bounds what a client that
    /// does not read can leave in its pending buffer. 1,024 of them: 4 MiB
    /// per worker, resident from the start.
    static var ringBufferSize: Int { 4 * 1024 }
    static var ringBufferCount: UInt32 { 1024 }

    init(
        index: Int, handler: Handler, listeners: [Int32], options: ServiceOptions, backend: IOBackend,
        state: ServiceState, logger: Logger
    ) throws(TrustError) {
        self.index = index
        self.handler = handler
        self.listeners = listeners
        self.options = options
        self.backend = backend
        self.io = ConnectionIO(
            loop: try EventLoop(), state: state, logger: logger, timeoutMs: options.idleTimeoutMs,
            capacity: options.descriptorLimit)
        self.table = ConnectionTable(capacity: options.descriptorLimit)
        self.reasons = CloseReasonTable(protocolReasons: Handler.closeReasons)
        self.readBase = .allocate(byteCount: Handler.prefixRoom + StreamWorker.readCapacity, alignment: 16)
        self.readBuffer = readBase + Handler.prefixRoom
        self.drainTimeoutMs = options.drainTimeoutMs
        self.spareFD = StreamWorker.openSpare()
        if backend == .ioUring {
            // Highest first, so slot 0 is handed out first.
            freeSlots = (0..<Int32(options.descriptorLimit)).reversed()
            acceptArmed = Array(repeating: false, count: listeners.count)
            return
        }
        for (position, fd) in listeners.enumerated() {
            if let errno = io.loop.add(fd, [.read, .exclusive], token: StreamWorker.listenerToken(position)) {
                throw TrustError.system(errno, operation: "epoll_ctl(listener)")
            }
        }
    }

    /// Wakes this worker's loop from any thread, whatever its backend.
    var waker: EventLoop.Waker { loop.waker }

    deinit {
        readBase.deallocate()
        if spareFD >= 0 { _ = cnet_close(spareFD) }
    }

    /// Listener tokens count down from just below the wake-up token. No
    /// connection token can equal one: its low 32 bits are a slot index,
    /// below 2^20, while a listener token's are above 2^32 - 2^20.
    @inline(__always)
    static func listenerToken(_ position: Int) -> UInt64 { EventLoop.wakeToken - 1 - UInt64(position) }

    @inline(__always)
    func listenerPosition(_ token: UInt64) -> Int? {
        let distance = EventLoop.wakeToken &- 1 &- token
        return distance < UInt64(listeners.count) ? Int(distance) : nil
    }

    /// A descriptor held in reserve so that, out of descriptors, the worker
    /// can still accept one pending connection and close it cleanly.
    static func openSpare() -> Int32 {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    // MARK: - The loop

    let backend: IOBackend

    /// Serves until drained. Throws only when the event loop itself fails.
    func run() throws(TrustError) {
        if backend == .ioUring {
            // Created here, on the worker's thread: a SINGLE_ISSUER ring
            // belongs to the thread that set it up. The service waits for
            // this (or the failure) before it says it is ready.
            let uring: UringLoop
            do {
                uring = try UringLoop(
                    entries: 4096, bufferCount: StreamWorker.ringBufferCount,
                    bufferSize: StreamWorker.ringBufferSize, headroom: Handler.prefixRoom, wakeFD: io.loop.wakeFD)
            } catch {
                state.fail(error)
                state.workerSetUp()
                throw error
            }
            state.workerSetUp()
            io.uring = uring
            defer { io.uring = nil }
            return try runUring(uring)
        }
        state.workerSetUp()
        io.now = MonotonicClock.coarseMilliseconds()
        while true {
            let ready = try loop.wait(timeoutMs: nextTimeout())
            io.now = MonotonicClock.coarseMilliseconds()
            for i in 0..<ready {
                let token = loop.token(at: i)
                if token == EventLoop.wakeToken {
                    loop.drainWakeups()
                    if state.stopRequested && !draining { beginDrain() }
                } else if let position = listenerPosition(token) {
                    acceptConnections(from: listeners[position])
                } else {
                    service(token: token)
                }
            }
            if endOfTurn() { return }
        }
    }

    /// Timeouts, the end of an accept pause, the end of a drain; true when
    /// the worker is done.
    func endOfTurn() -> Bool {
        if io.timeoutMs > 0 { expireIdle() }
        if !proxyPending.isEmpty && io.now >= proxyEarliestDeadline { expireProxyHeaders() }
        if let tls = io.tls, !tls.deadlines.isEmpty, io.now >= tls.earliestDeadline { expireTLSHandshakes() }
        if !accepting && !draining && io.now >= acceptResumeAt { resumeAccepting() }
        if draining && (io.idle.count == 0 || io.now >= drainDeadline) {
            closeAll(reason: .shutdown)
            return true
        }
        return false
    }

    /// Sleep until the oldest connection's deadline, the accept pause's end,
    /// or the drain deadline, whichever is first.
    func nextTimeout() -> Int32 {
        var deadline = Int64.max
        if io.timeoutMs > 0 && io.idle.head >= 0 {
            deadline = io.idle.lastActivity(of: io.idle.head) + io.timeoutMs
        }
        if !proxyPending.isEmpty { deadline = min(deadline, proxyEarliestDeadline) }
        if let tls = io.tls, !tls.deadlines.isEmpty { deadline = min(deadline, tls.earliestDeadline) }
        if !accepting && !draining { deadline = min(deadline, acceptResumeAt) }
        if draining { deadline = min(deadline, drainDeadline) }
        if deadline == .max { return -1 }
        // +1: the coarse clock must have passed the deadline when we wake.
        return Int32(clamping: max(0, deadline - io.now + 1))
    }

    // MARK: - Graceful shutdown

    /// Stop accepting; answer what each client has already sent (what is in
    /// the kernel's receive queue now), then close each connection once its
    /// output is out. The loop ends when all are closed or at the deadline.
    func beginDrain() {
        draining = true
        drainDeadline = io.now + drainTimeoutMs
        if accepting {
            stopWatchingListeners()
            accepting = false
        }
        // A snapshot: answering moves slots within the idle list.
        var open: [Int32] = []
        open.reserveCapacity(io.idle.count)
        var fd = io.idle.head
        while fd >= 0 {
            open.append(fd)
            fd = io.idle.successor(of: fd)
        }
        for slot in open {
            let c = table.slot(slot)
            drainReceived(slot, c)
            if c.pointee.isOpen { closeWhenFlushed(slot, c, reason: .shutdown) }
        }
    }

    /// What the kernel holds for the connection now, read directly (on
    /// io_uring too: nothing is posted between two of the loop's enters, so
    /// this reads after every byte already delivered).
    func drainReceived(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        // Bounded: a client streaming faster than we answer cannot hold the
        // drain forever; the deadline closes what is left.
        for _ in 0..<64 {
            guard c.pointee.isOpen, !c.pointee.readPaused, c.pointee.closeAfterFlush == 0 else { return }
            let before = c.pointee.bytesIn
            readable(slot, c)
            if c.pointee.bytesIn == before { return }
        }
    }

    private func closeAll(reason: CloseReason) {
        while io.idle.head >= 0 {
            let slot = io.idle.head
            let c = table.slot(slot)
            if c.pointee.pendingCount > 0 || c.pointee.uring.heldBuffer != 0 { io.counters.add(.forcedCloses) }
            close(slot, c, reason: reason)
        }
    }
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// One event loop of the load tester: a share of the connection slots,
/// driven with non-blocking sockets on TrustCore's `EventLoop` like the
/// server's workers ("one reactor, two users").
///
/// What goes on the wire and what must come back is `LoadMessages`; when
/// things happen is `LoadSchedule`; this type keeps each slot's state
/// (`LoadSlot`) through its phases: the loop, sessions and stopping here,
/// the round trips (moving and checking the bytes) in
/// LoadTestEngine+RoundTrips.swift. Members without `private` are shared
/// by the two files; nothing outside the engine uses them.
final class LoadTestEngine {
    struct Share {
        /// Slots (connections open at once) of this loop.
        var slots: Int
        /// Client sessions this loop runs (ignored with a duration).
        var clients: Int
        /// This loop's first client number and first slot number across
        /// all loops: they make each client's messages and each slot's
        /// schedule distinct.
        var firstClient: Int
        var firstSlot: Int
    }

    static let receiveCapacity = 64 * 1024
    static let progressIntervalNs: Int64 = 100_000_000

    let options: LoadTestOptions
    let share: Share
    /// epoll's loop; on io_uring it still owns the wake-up eventfd, which
    /// the ring reads.
    let loop: EventLoop
    let backend: IOBackend
    /// The ring, created on the loop's own thread (a SINGLE_ISSUER ring
    /// belongs to the thread that set it up); nil on epoll.
    var uring: UringLoop?
    /// io_uring: each slot's scratch for a frame's first send.
    var sendScratch: UnsafeMutableRawPointer?
    private var address: sockaddr_storage
    private let addressLength: socklen_t
    let slots: UnsafeMutablePointer<LoadSlot>
    var timeouts: IdleList
    var due: DueQueue
    private var waiting: SlotQueue
    let messages: LoadMessages
    let messageLength: Int
    let receiveBuffer: UnsafeMutableRawPointer
    let schedule: LoadSchedule
    /// The server's address as an endpoint, for PROXY headers.
    let target: IPEndpoint?

    private var connectAllowedAt: Int64 = 0
    var start: Int64 = 0
    private var deadline = LoadSchedule.never
    var now: Int64 = 0
    var stopping = false
    private var nextClient = 0
    private(set) var retired = 0

    private let progress: LoadTestProgress?
    private let stopRequest: StopRequest
    private var nextProgressAt = LoadSchedule.never
    private var publishedOK = 0
    private var publishedFailed = 0

    var tally = LoadTestTally()
    /// `--tls` (LoadTestEngine+TLS.swift); nil for plain TCP.
    var tls: LoadTLS?
    /// Warm-up and intervals (LoadTestEngine+Measuring.swift).
    var measure = LoadEngineMeasure()

    init(
        options: LoadTestOptions, share: Share, address: sockaddr_storage, addressLength: socklen_t,
        progress: LoadTestProgress?, stopRequest: StopRequest, backend: IOBackend = .epoll
    ) throws(TrustError) {
        self.options = options
        self.backend = backend
        self.share = share
        self.address = address
        self.addressLength = addressLength
        self.progress = progress
        self.stopRequest = stopRequest
        loop = try EventLoop(maxEvents: 1024)
        slots = ZeroedTable.allocate(LoadSlot.self, count: share.slots, what: "load-test slots")
        timeouts = IdleList(capacity: share.slots)
        due = DueQueue(capacity: share.slots)
        waiting = SlotQueue(capacity: share.slots)
        messages = LoadMessages(options: options)
        messageLength = messages.messageLength
        receiveBuffer = .allocate(byteCount: LoadTestEngine.receiveCapacity, alignment: 16)
        schedule = LoadSchedule(options: options, slots: share.slots, firstSlot: share.firstSlot)
        target = IPEndpoint(socketAddress: address)
    }

    deinit {
        // The ring first: its requests hold the sockets and the scratch.
        uring = nil
        for s in 0..<share.slots where slots[s].phase != .free { _ = cnet_close(slots[s].fd) }
        free(slots)
        receiveBuffer.deallocate()
        sendScratch?.deallocate()
    }

    /// Wakes the loop from another thread, e.g. to see a stop request.
    var waker: EventLoop.Waker { loop.waker }

    // MARK: - The loop

    /// Runs until every slot has retired: its sessions are done (count
    /// mode), the duration is over and its last round trip finished, or a
    /// stop was requested. Throws only when the event loop itself fails.
    func run(startedAt: Int64) throws(TrustError) {
        start = startedAt
        now = MonotonicClock.nanoseconds()
        deadline = LoadSchedule.adding(start, schedule.runNs)
        if progress != nil { nextProgressAt = now + LoadTestEngine.progressIntervalNs }
        beginMeasuring()
        connectAllowedAt = now
        for s in 0..<share.slots { waiting.push(Int32(s)) }
        if backend == .ioUring {
            try runUring()
        }
        // A stop requested before this loop started has already woken it.
        while backend == .epoll && retired < share.slots {
            let ready = try loop.wait(timeoutMs: nextTimeout())
            for i in 0..<ready {
                let token = loop.token(at: i)
                if token == EventLoop.wakeToken {
                    loop.drainWakeups()
                    continue
                }
                now = MonotonicClock.nanoseconds()
                service(token: token, events: loop.events(at: i))
            }
            if endOfTurn() { break }
        }
        publishProgress()
        finishMeasuring()
    }

    /// After a turn's events, on either backend: a stop, the end of the
    /// duration, timeouts, scheduled sends, new sessions, progress. True
    /// when a signal ended the run.
    func endOfTurn() -> Bool {
        now = MonotonicClock.nanoseconds()
        if stopRequest.signal != nil {
            abandon()
            return true
        }
        if !stopping && now >= deadline { stop() }
        expireTimeouts()
        sendScheduled()
        startWaiting()
        if now >= nextProgressAt { publishProgress() }
        if now >= measure.nextAt { measureTick() }
        return false
    }

    /// Sleep until the first of: a timeout, a scheduled send, the next
    /// allowed connect, the end of the duration, a progress tick. Rounded
    /// down, so the loop wakes at or just before the moment (then polls
    /// for under a millisecond) rather than up to a millisecond late.
    func nextTimeout() -> Int32 {
        var wake = min(nextProgressAt, measure.nextAt)
        if timeouts.head >= 0 {
            wake = min(wake, LoadSchedule.adding(timeouts.lastActivity(of: timeouts.head), schedule.timeoutNs))
        }
        if !due.isEmpty { wake = min(wake, due.nextDue) }
        if !waiting.isEmpty { wake = min(wake, connectAllowedAt) }
        if !stopping { wake = min(wake, deadline) }
        if wake == LoadSchedule.never { return -1 }
        return Int32(clamping: max(0, (wake - now) / 1_000_000))
    }

    @inline(__always)
    private func service(token: UInt64, events: EventLoop.Events) {
        let s = Int(EventLoop.Token.slot(token))
        guard s >= 0, s < share.slots, slots[s].generation == EventLoop.Token.generation(token) else { return }
        switch slots[s].phase {
        case .free:
            return
        case .connecting:
            connected(s)
        case .scheduled:
            // Between round trips the server has nothing to say: this is
            // its close, a reset or stray bytes, and `receive` fails it.
            receive(s)
        case .inFlight:
            let generation = slots[s].generation
            if events.contains(.write) && slots[s].writeArmed { send(s) }
            // A failed send ends the connection (the generation moves on).
            if slots[s].generation == generation && !events.isDisjoint(with: [.read, .error, .hangup]) {
                receive(s)
            }
        }
    }

    // MARK: - Sessions

    /// Start sessions for waiting slots, as fast as --connect-rate allows.
    /// Only the slots waiting when this began: a connect that fails at once
    /// puts its slot back, and must not make this loop forever.
    private func startWaiting() {
        if stopping || (options.duration == nil && nextClient >= share.clients) {
            // No session left to start: waiting slots retire now, not
            // when --connect-rate would have let them connect.
            retired += waiting.count
            waiting.removeAll()
            return
        }
        var budget = waiting.count
        while budget > 0 && !waiting.isEmpty && now >= connectAllowedAt {
            budget -= 1
            let s = Int(waiting.pop())
            if options.duration == nil && nextClient >= share.clients {
                retired += 1
                continue
            }
            slots[s].client = share.firstClient + nextClient
            slots[s].message = 0
            slots[s].reconnects = 0
            nextClient += 1
            if schedule.connectIntervalNs > 0 {
                connectAllowedAt = LoadSchedule.adding(max(connectAllowedAt, now), schedule.connectIntervalNs)
            }
            connect(s)
        }
    }

    func connect(_ s: Int) {
        let fd =
            measure.sources.isEmpty
            ? LoadTestEngine.connectStart(&address, addressLength)
            : LoadTestEngine.connectStart(&address, addressLength, from: nextSource())
        if fd < 0 {
            let errno = Errno(rawValue: fd)
            fail(s, LoadFailureKind.ofConnect(errno), "cannot connect: \(errno.description)", errno: errno)
            return
        }
        _ = cnet_set_nodelay(fd, 1)
        slots[s].fd = fd
        slots[s].phase = .connecting
        slots[s].writeArmed = true
        if let uring {
            watchConnect(s, uring)
        } else if let errno = loop.add(fd, .write, token: token(s)) {
            _ = cnet_close(fd)
            slots[s].phase = .free
            fail(s, .other, "epoll_ctl: \(errno.description)", errno: errno)
            return
        }
        timeouts.append(Int32(s), at: now)
        slots[s].timed = true
    }

    /// `cnet_connect_start` takes a generic sockaddr: the storage is the
    /// engine's own, alive for the call, and `length` is what the resolver
    /// wrote for it, so viewing it as a sockaddr is safe.
    private static func connectStart(_ address: inout sockaddr_storage, _ length: socklen_t) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cnet_connect_start($0, length) }
        }
    }

    func connected(_ s: Int) {
        if let tls, tls.handshaking[s] {
            handshakeEvent(s)
            return
        }
        let rc = cnet_connect_result(slots[s].fd)
        if rc < 0 {
            let errno = Errno(rawValue: rc)
            fail(s, LoadFailureKind.ofConnect(errno), "cannot connect: \(errno.description)", errno: errno)
            return
        }
        tally.connections += 1
        untime(s)
        if let version = options.proxyHeader, !sendProxyHeader(s, version) { return }
        slots[s].writeArmed = false
        if let uring {
            armReceive(s, uring)
        } else {
            _ = loop.modify(slots[s].fd, .read, token: token(s))
        }
        if tls != nil {
            startHandshake(s)
            return
        }
        beginRoundTrip(s)
    }

    /// The session is over (all its messages done, or the run is stopping):
    /// close, and queue the slot for its next session.
    func endSession(_ s: Int) {
        close(s)
        waiting.push(Int32(s))
    }

    /// Ends the slot's connection whatever its phase: off the timeout list
    /// and the due queue, so nothing of this connection outlives it.
    func close(_ s: Int) {
        untime(s)
        if slots[s].phase == .scheduled { due.remove(Int32(s)) }
        if let uring, slots[s].phase != .free { cancelRequests(s, uring) }
        if tls != nil && slots[s].phase != .free { tlsClose(s) }
        if slots[s].phase != .free { _ = cnet_close(slots[s].fd) }
        slots[s].phase = .free
        slots[s].writeArmed = false
        slots[s].generation &+= 1
    }

    func untime(_ s: Int) {
        if slots[s].timed {
            timeouts.remove(Int32(s))
            slots[s].timed = false
        }
    }

    @inline(__always)
    func token(_ s: Int) -> UInt64 { EventLoop.Token.make(slot: Int32(s), generation: slots[s].generation) }

    /// A failure ends the slot's session. In count mode the session's
    /// messages not yet verified are all failed round trips: the run
    /// promised clients × messages.
    func fail(_ s: Int, _ kind: LoadFailureKind, _ message: String, errno: Errno? = nil) {
        tally.failures[kind, default: 0] += 1
        tally.failed += options.duration == nil ? max(1, options.messages - slots[s].message) : 1
        if tally.firstFailure == nil {
            tally.firstFailure = LoadFailure(
                kind: kind, message: "client \(slots[s].client), message \(slots[s].message): \(message)",
                errno: errno)
        }
        endSession(s)
    }

    // MARK: - Time and stopping

    private func expireTimeouts() {
        // Bounded: each pass removes the head from the list.
        while timeouts.head >= 0
            && LoadSchedule.adding(timeouts.lastActivity(of: timeouts.head), schedule.timeoutNs) <= now
        {
            let s = Int(timeouts.head)
            let what =
                slots[s].phase == .connecting
                ? "connect timed out after \(options.timeout) s"
                : "no complete echo after \(options.timeout) s (\(slots[s].received) of \(messageLength) bytes)"
            fail(s, .timeout, what, errno: .timedOut)
        }
    }

    /// The duration is over: no new sessions or requests. Round trips under
    /// way finish (bounded by the timeout); idle connections close now.
    private func stop() {
        stopping = true
        for s in 0..<share.slots {
            switch slots[s].phase {
            case .scheduled, .connecting:
                endSession(s)
            case .free, .inFlight:
                break
            }
        }
    }

    /// A signal stopped the run: every connection closes now. A round trip
    /// under way is neither verified nor failed; it is counted apart, as
    /// cut short, so the partial summary says what was not measured.
    private func abandon() {
        for s in 0..<share.slots where slots[s].phase != .free {
            if slots[s].phase == .inFlight { tally.cutShort += 1 }
            close(s)
        }
        waiting.removeAll()
        retired = share.slots
    }

    func publishProgress() {
        nextProgressAt = progress == nil ? LoadSchedule.never : now + LoadTestEngine.progressIntervalNs
        guard let progress else { return }
        progress.add(ok: tally.ok - publishedOK, failed: tally.failed - publishedFailed)
        publishedOK = tally.ok
        publishedFailed = tally.failed
    }
}

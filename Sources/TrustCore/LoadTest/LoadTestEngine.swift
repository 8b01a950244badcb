import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// One event loop of the load tester: a share of the connection slots,
/// driven with non-blocking sockets on TrustCore's `EventLoop` like the
/// server's workers ("one reactor, two users").
///
/// What goes on the wire and what must come back is `LoadMessages`; when
/// things happen is `LoadSchedule`; this type moves the bytes and keeps
/// each slot's state (`LoadSlot`) through its phases.
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
    private let loop: EventLoop
    private var address: sockaddr_storage
    private let addressLength: socklen_t
    private let slots: UnsafeMutablePointer<LoadSlot>
    private var timeouts: IdleList
    private var due: DueQueue
    private var waiting: SlotQueue
    private let messages: LoadMessages
    private let messageLength: Int
    private let receiveBuffer: UnsafeMutableRawPointer
    private let schedule: LoadSchedule

    private var connectAllowedAt: Int64 = 0
    private var start: Int64 = 0
    private var deadline = LoadSchedule.never
    private var now: Int64 = 0
    private var stopping = false
    private var nextClient = 0
    private var retired = 0

    private let progress: LoadTestProgress?
    private let stopRequest: StopRequest
    private var nextProgressAt = LoadSchedule.never
    private var publishedOK = 0
    private var publishedFailed = 0

    private(set) var tally = LoadTestTally()

    init(
        options: LoadTestOptions, share: Share, address: sockaddr_storage, addressLength: socklen_t,
        progress: LoadTestProgress?, stopRequest: StopRequest
    ) throws(TrustError) {
        self.options = options
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
    }

    deinit {
        for s in 0..<share.slots where slots[s].phase != .free { _ = cnet_close(slots[s].fd) }
        free(slots)
        receiveBuffer.deallocate()
    }

    /// Wakes the loop from another thread, e.g. to see a stop request.
    var waker: EventLoop.Waker { loop.waker }

    // MARK: - The loop

    /// Runs until every slot has retired: its sessions are done (count
    /// mode), the duration is over and its last round trip finished, or a
    /// stop was requested.
    func run(startedAt: Int64) {
        start = startedAt
        now = MonotonicClock.nanoseconds()
        deadline = LoadSchedule.adding(start, schedule.runNs)
        if progress != nil { nextProgressAt = now + LoadTestEngine.progressIntervalNs }
        connectAllowedAt = now
        for s in 0..<share.slots { waiting.push(Int32(s)) }
        // A stop requested before this loop started has already woken it.
        while retired < share.slots {
            let ready = loop.wait(timeoutMs: nextTimeout())
            for i in 0..<ready {
                let token = loop.token(at: i)
                if token == EventLoop.wakeToken {
                    loop.drainWakeups()
                    continue
                }
                now = MonotonicClock.nanoseconds()
                service(token: token, events: loop.events(at: i))
            }
            now = MonotonicClock.nanoseconds()
            if stopRequest.signal != nil {
                abandon()
                break
            }
            if !stopping && now >= deadline { stop() }
            expireTimeouts()
            sendScheduled()
            startWaiting()
            if now >= nextProgressAt { publishProgress() }
        }
        publishProgress()
    }

    /// Sleep until the first of: a timeout, a scheduled send, the next
    /// allowed connect, the end of the duration, a progress tick. Rounded
    /// down, so the loop wakes at or just before the moment (then polls
    /// for under a millisecond) rather than up to a millisecond late.
    private func nextTimeout() -> Int32 {
        var wake = nextProgressAt
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
            nextClient += 1
            if schedule.connectIntervalNs > 0 {
                connectAllowedAt = LoadSchedule.adding(max(connectAllowedAt, now), schedule.connectIntervalNs)
            }
            connect(s)
        }
    }

    private func connect(_ s: Int) {
        let fd = LoadTestEngine.connectStart(&address, addressLength)
        if fd < 0 {
            let errno = Errno(rawValue: fd)
            fail(s, LoadFailureKind.ofConnect(errno), "cannot connect: \(errno.description)", errno: errno)
            return
        }
        _ = cnet_set_nodelay(fd, 1)
        slots[s].fd = fd
        slots[s].phase = .connecting
        slots[s].writeArmed = true
        if let errno = loop.add(fd, .write, token: token(s)) {
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

    private func connected(_ s: Int) {
        let rc = cnet_connect_result(slots[s].fd)
        if rc < 0 {
            let errno = Errno(rawValue: rc)
            fail(s, LoadFailureKind.ofConnect(errno), "cannot connect: \(errno.description)", errno: errno)
            return
        }
        tally.connections += 1
        untime(s)
        slots[s].writeArmed = false
        _ = loop.modify(slots[s].fd, .read, token: token(s))
        beginRoundTrip(s)
    }

    /// The session is over (all its messages done, or the run is stopping):
    /// close, and queue the slot for its next session.
    private func endSession(_ s: Int) {
        close(s)
        waiting.push(Int32(s))
    }

    /// Ends the slot's connection whatever its phase: off the timeout list
    /// and the due queue, so nothing of this connection outlives it.
    private func close(_ s: Int) {
        untime(s)
        if slots[s].phase == .scheduled { due.remove(Int32(s)) }
        if slots[s].phase != .free { _ = cnet_close(slots[s].fd) }
        slots[s].phase = .free
        slots[s].writeArmed = false
        slots[s].generation &+= 1
    }

    private func untime(_ s: Int) {
        if slots[s].timed {
            timeouts.remove(Int32(s))
            slots[s].timed = false
        }
    }

    @inline(__always)
    private func token(_ s: Int) -> UInt64 { EventLoop.Token.make(slot: Int32(s), generation: slots[s].generation) }

    /// A failure ends the slot's session. In count mode the session's
    /// messages not yet verified are all failed round trips: the run
    /// promised clients × messages.
    private func fail(_ s: Int, _ kind: LoadFailureKind, _ message: String, errno: Errno? = nil) {
        tally.failures[kind, default: 0] += 1
        tally.failed += options.duration == nil ? max(1, options.messages - slots[s].message) : 1
        if tally.firstFailure == nil {
            tally.firstFailure = LoadFailure(
                kind: kind, message: "client \(slots[s].client), message \(slots[s].message): \(message)",
                errno: errno)
        }
        endSession(s)
    }

    // MARK: - Round trips

    private func beginRoundTrip(_ s: Int) {
        if stopping {
            endSession(s)
            return
        }
        if schedule.isOpenLoop {
            let scheduled = schedule.due(slot: s, request: slots[s].requests, start: start)
            slots[s].requests &+= 1
            slots[s].startedAt = scheduled
            if scheduled > now {
                slots[s].phase = .scheduled
                due.push(Int32(s), due: scheduled)
                return
            }
            // Late (the server or this loop fell behind): send now, but
            // measure from the schedule, so the delay shows in the latency.
        } else {
            slots[s].startedAt = now
        }
        sendMessage(s)
    }

    private func sendScheduled() {
        // Bounded: each pass takes one slot off the queue, and a slot goes
        // back on only after its echo, which needs another loop turn.
        while !due.isEmpty && due.nextDue <= now {
            sendMessage(Int(due.pop()))
        }
    }

    private func sendMessage(_ s: Int) {
        slots[s].offset = messages.offset(client: slots[s].client, message: slots[s].message)
        slots[s].sent = 0
        slots[s].received = 0
        slots[s].phase = .inFlight
        timeouts.append(Int32(s), at: now)
        slots[s].timed = true
        send(s)
    }

    /// Send what the kernel takes of the current message; watch for
    /// writability only while some of it is left.
    private func send(_ s: Int) {
        let fd = slots[s].fd
        while slots[s].sent < messageLength {
            let chunk = messages.chunk(offset: slots[s].offset, sent: slots[s].sent)
            let n = cnet_send(fd, chunk.bytes, chunk.count)
            if n < 0 {
                if n == -Int(EAGAIN) { break }
                let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
                fail(s, LoadFailureKind.ofTransfer(errno), "send: \(errno.description)", errno: errno)
                return
            }
            slots[s].sent += n
            tally.bytesSent &+= UInt64(n)
            if n < chunk.count { break }
        }
        let wantWrite = slots[s].sent < messageLength
        if wantWrite != slots[s].writeArmed {
            slots[s].writeArmed = wantWrite
            _ = loop.modify(fd, wantWrite ? [.read, .write] : .read, token: token(s))
        }
    }

    /// One recv per readiness event (level-triggered: the loop comes back
    /// if more is waiting), checked against the expected echo as it lands.
    private func receive(_ s: Int) {
        let n = cnet_recv(slots[s].fd, receiveBuffer, LoadTestEngine.receiveCapacity)
        if n > 0 {
            tally.bytesReceived &+= UInt64(n)
            let received = slots[s].received
            guard slots[s].phase == .inFlight, received + n <= slots[s].sent else {
                fail(s, .mismatch, "the server sent \(n) bytes more than it was sent")
                return
            }
            let offset = slots[s].offset
            if let at = messages.firstDifference(receiveBuffer, count: n, at: received, offset: offset) {
                fail(s, .mismatch, "echo differs from what was sent at byte \(at) of \(messageLength)")
                return
            }
            slots[s].received = received + n
            if slots[s].received == messageLength { complete(s) }
        } else if n == 0 {
            let what =
                slots[s].phase == .inFlight
                ? "server closed the connection after \(slots[s].received) of \(messageLength) echo bytes"
                : "server closed the connection between round trips"
            fail(s, .closedEarly, what)
        } else if n != -Int(EAGAIN) {
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
            fail(s, LoadFailureKind.ofTransfer(errno), "recv: \(errno.description)", errno: errno)
        }
    }

    private func complete(_ s: Int) {
        untime(s)
        tally.ok += 1
        tally.latency.record(nanoseconds: now - slots[s].startedAt)
        slots[s].message += 1
        if slots[s].message >= options.messages {
            endSession(s)
        } else {
            beginRoundTrip(s)
        }
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

    private func publishProgress() {
        nextProgressAt = progress == nil ? LoadSchedule.never : now + LoadTestEngine.progressIntervalNs
        guard let progress else { return }
        progress.add(ok: tally.ok - publishedOK, failed: tally.failed - publishedFailed)
        publishedOK = tally.ok
        publishedFailed = tally.failed
    }
}

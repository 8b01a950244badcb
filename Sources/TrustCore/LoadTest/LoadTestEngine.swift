import CNetShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The state of one load-test connection slot, stored by value in a
/// calloc'd table indexed by slot: integers only, so a zeroed slot is a
/// valid free slot and nothing is allocated per connection or per message.
struct LoadSlot {
    var fd: Int32
    /// Bumped whenever the slot's connection ends, so a stale epoll event
    /// for an earlier connection of this slot is recognised and ignored.
    var generation: UInt32
    var phase: LoadSlot.Phase
    /// EPOLLOUT is wanted: a connect in progress or a send the kernel did
    /// not take whole.
    var writeArmed: Bool
    /// On the timeout list (connecting or waiting for an echo).
    var timed: Bool
    /// Which client session the slot runs, and its current message.
    var client: Int
    var message: Int
    /// Progress of the current round trip.
    var sent: Int
    var received: Int
    /// Where the current message starts in the pattern buffer.
    var offset: Int
    /// When the current round trip started (its scheduled time with --rate).
    var startedAt: Int64
    /// Open loop: requests this slot has issued, across its sessions.
    var requests: Int64

    enum Phase: UInt8 {
        /// No connection: waiting to start a session, or retired.
        case free = 0
        case connecting
        /// Connected, waiting for the next scheduled send (--rate).
        case scheduled
        /// A round trip is under way.
        case inFlight
    }
}

/// One event loop of the load tester: a share of the connection slots,
/// driven with non-blocking sockets on TrustCore's `EventLoop` like the
/// server's workers ("one reactor, two users").
///
/// Messages are cut from one pattern buffer (`PayloadPattern`), so what an
/// echo must be is known from (client, message) alone and each chunk that
/// arrives is checked with memcmp as it lands in the loop's one receive
/// buffer, however TCP split it.
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
    static let progressIntervalNs: Int64 = 200_000_000

    let options: LoadTestOptions
    let share: Share
    private let loop: EventLoop
    private var address: sockaddr_storage
    private let addressLength: socklen_t
    private let slots: UnsafeMutablePointer<LoadSlot>
    private var timeouts: IdleList
    private var due: DueQueue
    private var waiting: SlotQueue
    private let pattern: UnsafeMutableRawPointer
    private let receiveBuffer: UnsafeMutableRawPointer
    /// A frame's header and the start of its payload, sent in one call.
    private let firstSend: UnsafeMutableRawPointer
    private let header: UInt32
    private let headerLength: Int
    private let messageLength: Int

    private let timeoutNs: Int64
    /// Open loop: one slot's period between requests, in nanoseconds, and
    /// the offset between neighbouring slots' schedules.
    private let periodNs: Double
    private let connectIntervalNs: Int64
    private var connectAllowedAt: Int64 = 0
    private var start: Int64 = 0
    private var deadline: Int64 = .max
    private var now: Int64 = 0
    private var stopping = false
    private var nextClient = 0
    private var retired = 0

    private let progress: LoadTestProgress?
    private var nextProgressAt: Int64 = .max
    private var published = 0

    private(set) var tally = LoadTestTally()

    init(
        options: LoadTestOptions, share: Share, address: sockaddr_storage, addressLength: socklen_t,
        progress: LoadTestProgress?
    ) throws(TrustError) {
        self.options = options
        self.share = share
        self.address = address
        self.addressLength = addressLength
        self.progress = progress
        loop = try EventLoop(maxEvents: 1024)
        slots = ZeroedTable.allocate(LoadSlot.self, count: share.slots, what: "load-test slots")
        timeouts = IdleList(capacity: share.slots)
        due = DueQueue(capacity: share.slots)
        waiting = SlotQueue(capacity: share.slots)
        pattern = LoadTestEngine.makePattern(payloadSize: options.payloadSize)
        receiveBuffer = .allocate(byteCount: LoadTestEngine.receiveCapacity, alignment: 16)
        firstSend = .allocate(byteCount: LoadTestEngine.receiveCapacity, alignment: 16)
        header = UInt32(options.payloadSize).bigEndian
        headerLength = options.mode == .framed ? 4 : 0
        messageLength = options.messageLength
        timeoutNs = Int64(options.timeout * 1e9)
        if let rate = options.rate {
            periodNs = Double(options.effectiveConcurrency) / rate * 1e9
        } else {
            periodNs = 0
        }
        if let connectRate = options.connectRate {
            // This loop's share of the connection rate.
            let perLoop = connectRate * Double(share.slots) / Double(options.effectiveConcurrency)
            connectIntervalNs = Int64(1e9 / perLoop)
        } else {
            connectIntervalNs = 0
        }
    }

    deinit {
        for s in 0..<share.slots where slots[s].phase != .free { _ = cnet_close(slots[s].fd) }
        free(slots)
        pattern.deallocate()
        receiveBuffer.deallocate()
        firstSend.deallocate()
    }

    /// The pattern messages are cut from: period + payload bytes, so a
    /// message at any offset below the period is contiguous.
    private static func makePattern(payloadSize: Int) -> UnsafeMutableRawPointer {
        let length = PayloadPattern.period + payloadSize
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16)
        let bytes = PayloadPattern.bytes(count: length)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: length) }
        return buffer
    }

    // MARK: - The loop

    /// Runs until every slot has retired: its sessions are done (count
    /// mode) or the duration is over and its last round trip finished.
    /// Throws only when the event loop itself fails.
    func run(startedAt: Int64) throws(TrustError) {
        start = startedAt
        now = MonotonicClock.nanoseconds()
        if let duration = options.duration { deadline = start + Int64(duration * 1e9) }
        if progress != nil { nextProgressAt = now + LoadTestEngine.progressIntervalNs }
        connectAllowedAt = now
        for s in 0..<share.slots { waiting.push(Int32(s)) }
        while retired < share.slots {
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
            now = MonotonicClock.nanoseconds()
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
        if timeouts.head >= 0 { wake = min(wake, timeouts.lastActivity(of: timeouts.head) + timeoutNs) }
        if !due.isEmpty { wake = min(wake, due.nextDue) }
        if !waiting.isEmpty { wake = min(wake, connectAllowedAt) }
        if !stopping { wake = min(wake, deadline) }
        if wake == .max { return -1 }
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
        var budget = waiting.count
        while budget > 0 && !waiting.isEmpty && now >= connectAllowedAt {
            budget -= 1
            let s = Int(waiting.pop())
            if stopping || (options.duration == nil && nextClient >= share.clients) {
                retired += 1
                continue
            }
            slots[s].client = share.firstClient + nextClient
            slots[s].message = 0
            nextClient += 1
            if connectIntervalNs > 0 { connectAllowedAt = max(connectAllowedAt, now) + connectIntervalNs }
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
        if let errno = loop.add(
            fd, .write, token: EventLoop.Token.make(slot: Int32(s), generation: slots[s].generation))
        {
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

    private func close(_ s: Int) {
        untime(s)
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
        tally.failed += options.duration == nil ? options.messages - slots[s].message : 1
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
        if periodNs > 0 {
            let scheduled = scheduledTime(s)
            slots[s].requests += 1
            if scheduled > now {
                slots[s].startedAt = scheduled
                slots[s].phase = .scheduled
                due.push(Int32(s), due: scheduled)
                return
            }
            // Late (the server or this loop fell behind): send now, but
            // measure from the schedule, so the delay shows in the latency.
            slots[s].startedAt = scheduled
        } else {
            slots[s].startedAt = now
        }
        sendMessage(s)
    }

    /// Open loop: slot g's k-th request is due at start + (k + g/C)·C/R.
    private func scheduledTime(_ s: Int) -> Int64 {
        let slotPhase = Double(share.firstSlot + s) / Double(options.effectiveConcurrency)
        return start + Int64((Double(slots[s].requests) + slotPhase) * periodNs)
    }

    private func sendScheduled() {
        while !due.isEmpty && due.nextDue <= now {
            let s = Int(due.pop())
            guard slots[s].phase == .scheduled else { continue }
            sendMessage(s)
        }
    }

    private func sendMessage(_ s: Int) {
        slots[s].offset = PayloadPattern.offset(client: slots[s].client, message: slots[s].message)
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
            let sent = slots[s].sent
            let bytes: UnsafeRawPointer
            let count: Int
            if sent < headerLength {
                count = prepareFirstSend(s, from: sent)
                bytes = UnsafeRawPointer(firstSend)
            } else {
                bytes = UnsafeRawPointer(pattern + slots[s].offset + (sent - headerLength))
                count = messageLength - sent
            }
            let n = cnet_send(fd, bytes, count)
            if n < 0 {
                if n == -Int(EAGAIN) { break }
                let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
                fail(s, LoadFailureKind.ofTransfer(errno), "send: \(errno.description)", errno: errno)
                return
            }
            slots[s].sent += n
            tally.bytesSent &+= UInt64(n)
            if n < count { break }
        }
        let wantWrite = slots[s].sent < messageLength
        if wantWrite != slots[s].writeArmed {
            slots[s].writeArmed = wantWrite
            _ = loop.modify(fd, wantWrite ? [.read, .write] : .read, token: token(s))
        }
    }

    /// The rest of the frame header and as much payload as fits, copied
    /// into `firstSend` so they leave in one call (one segment for small
    /// messages). Returns the byte count.
    private func prepareFirstSend(_ s: Int, from sent: Int) -> Int {
        var header = self.header
        let headerPart = headerLength - sent
        withUnsafeBytes(of: &header) { firstSend.copyMemory(from: $0.baseAddress! + sent, byteCount: headerPart) }
        let payloadPart = min(options.payloadSize, LoadTestEngine.receiveCapacity - headerPart)
        (firstSend + headerPart).copyMemory(from: pattern + slots[s].offset, byteCount: payloadPart)
        return headerPart + payloadPart
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
            if let at = firstDifference(s, at: received, count: n) {
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

    /// Compares `count` received bytes, which belong at `position` of the
    /// current message's echo, with what was sent: the header (framed) and
    /// then the pattern slice. Returns the first differing position.
    @inline(__always)
    private func firstDifference(_ s: Int, at position: Int, count: Int) -> Int? {
        var checked = 0
        if position < headerLength {
            var header = self.header
            let headerPart = min(headerLength - position, count)
            let differs = withUnsafeBytes(of: &header) {
                memcmp(receiveBuffer, $0.baseAddress! + position, headerPart) != 0
            }
            if differs { return position }
            checked = headerPart
        }
        if checked < count {
            let payloadPosition = position + checked - headerLength
            if memcmp(receiveBuffer + checked, pattern + slots[s].offset + payloadPosition, count - checked) != 0 {
                return position + checked
            }
        }
        return nil
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

    // MARK: - Time

    private func expireTimeouts() {
        // Bounded: each pass removes the head from the list.
        while timeouts.head >= 0 && timeouts.lastActivity(of: timeouts.head) + timeoutNs <= now {
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
        due.removeAll()
        for s in 0..<share.slots {
            switch slots[s].phase {
            case .scheduled:
                endSession(s)
            case .connecting:
                endSession(s)
            case .free, .inFlight:
                break
            }
        }
    }

    private func publishProgress() {
        nextProgressAt = progress == nil ? .max : now + LoadTestEngine.progressIntervalNs
        guard let progress else { return }
        let done = tally.ok + tally.failed
        progress.add(done - published)
        published = done
    }
}

/// Round trips finished so far across all loops, for the progress bar.
final class LoadTestProgress: Sendable {
    let finished = Atomic<Int>(0)
    func add(_ count: Int) { finished.add(count, ordering: .relaxed) }
    var count: Int { finished.load(ordering: .relaxed) }
}

import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The UDP echo (RFC 862 §2, SPEC §12): one socket, served by this loop on
/// its own thread, on the service's IO backend. epoll: the socket is
/// registered for readability; io_uring: a multishot poll on the socket
/// (one SQE, re-armed if the kernel ends it). Either way, once readable the
/// worker moves datagrams in batches with `recvmmsg` / `sendmmsg`
/// (`cnet_udp_recv_batch` / `cnet_udp_send_batch`) over one set of slots
/// allocated at start: nothing is allocated per datagram.
///
/// Each datagram is echoed as one datagram to its source, from the address
/// it was sent to (pktinfo), unless a guard drops it: source port 0 or
/// 7/13/17/19, an empty token bucket for its source address, or a
/// truncated (longer than 65507 bytes) datagram. Drops are counted by
/// reason and summarised in at most one log line per second.
///
/// Drain (SIGTERM/SIGINT): the worker stops waiting for new datagrams,
/// answers what is already queued in the socket's receive buffer (bounded:
/// at most `drainBatches` batches), closes nothing itself, and ends.
final class DatagramWorker {
    static let batch = 32
    /// Slot stride: 64 KiB, of which 65507 bytes take a datagram.
    static let slotStride = 65536
    static let drainBatches = 1024
    /// Batches per readiness event before the loop looks at its other events.
    static let batchesPerTurn = 64

    let fd: Int32
    let loop: EventLoop
    let counters = DatagramCounters()
    private let backend: IOBackend
    private let state: ServiceState
    private let logger: Logger
    private var limiter: SourceRateLimiter
    private let buffer: UnsafeMutableRawPointer
    private var slots: [cnet_udp_dgram]
    private var loggedDrops: [UInt64] = Array(repeating: 0, count: DatagramDropReason.allCases.count)
    private var lastDropLogMs: Int64 = 0
    private var receiveErrorLogged = false

    init(fd: Int32, rate: Double, backend: IOBackend, state: ServiceState, logger: Logger) throws(TrustError) {
        self.fd = fd
        self.loop = try EventLoop(maxEvents: 8)
        self.backend = backend
        self.state = state
        self.logger = logger
        limiter = SourceRateLimiter(rate: rate)
        let stride = DatagramWorker.slotStride
        let base = UnsafeMutableRawPointer.allocate(byteCount: DatagramWorker.batch * stride, alignment: 64)
        buffer = base
        slots = (0..<DatagramWorker.batch).map { index in
            var slot = cnet_udp_dgram()
            slot.buf = base + index * stride
            slot.cap = Int(CNET_UDP_MAX_PAYLOAD)
            return slot
        }
    }

    deinit { buffer.deallocate() }

    var waker: EventLoop.Waker { loop.waker }

    /// Serves until a stop is requested, then drains. Throws only when the
    /// event loop itself fails.
    func run() throws(TrustError) {
        if backend == .ioUring {
            let uring: UringLoop
            do {
                // The ring's provided buffers are unused here (receives go
                // through recvmmsg): the smallest ring the helper takes.
                uring = try UringLoop(entries: 8, bufferCount: 2, bufferSize: 64, headroom: 0, wakeFD: loop.wakeFD)
            } catch {
                state.fail(error)
                state.workerSetUp()
                throw error
            }
            state.workerSetUp()
            try runUring(uring)
        } else {
            if let failure = loop.add(fd, .read, token: 1) {
                let error = TrustError.system(failure, operation: "epoll_ctl(udp)")
                state.fail(error)
                state.workerSetUp()
                throw error
            }
            state.workerSetUp()
            while !state.stopRequested {
                let ready = try loop.wait(timeoutMs: 1000)
                var readable = false
                for i in 0..<ready {
                    if loop.token(at: i) == EventLoop.wakeToken { loop.drainWakeups() } else { readable = true }
                }
                if readable { _ = serve(batches: DatagramWorker.batchesPerTurn) }
                logDropsIfDue()
            }
            loop.remove(fd)
        }
        _ = serve(batches: DatagramWorker.drainBatches)
        logDropsIfDue(force: true)
    }

    private func runUring(_ uring: UringLoop) throws(TrustError) {
        let pollTag = UringLoop.Tag.make(.poll, slot: 0, generation: 0)
        _ = uring.armWake()
        _ = cnet_uring_prep_poll(uring.ring, fd, CNET_EV_READ, 1, pollTag)
        // A turn that stopped with datagrams still queued: a multishot poll
        // fires on new arrivals only, so the next turn must not wait.
        var pending = false
        while !state.stopRequested {
            try uring.submitAndWait(timeoutMs: pending ? 0 : 1000)
            var readable = pending
            uring.forEachCompletion { tag, result, flags in
                switch UringLoop.Tag.kind(tag) {
                case UringLoop.Kind.wake.rawValue:
                    _ = uring.armWake()
                case UringLoop.Kind.poll.rawValue:
                    if result > 0 { readable = true }
                    if cnet_uring_cqe_has_more(flags) == 0 {
                        _ = cnet_uring_prep_poll(uring.ring, fd, CNET_EV_READ, 1, pollTag)
                    }
                default:
                    break
                }
            }
            pending = readable && serve(batches: DatagramWorker.batchesPerTurn)
            logDropsIfDue()
        }
        // The ring is destroyed on return (UringLoop.deinit), which cancels
        // the poll and the wake read.
    }

    /// Receives, filters and echoes up to `batches` batches, until the
    /// socket has nothing queued. True: it stopped at `batches` with
    /// more possibly queued.
    private func serve(batches: Int) -> Bool {
        for _ in 0..<batches {
            let received = receiveBatch()
            if received <= 0 { return false }
            let kept = filter(received)
            if kept > 0 { echo(kept) }
            if received < DatagramWorker.batch { return false }
        }
        return true
    }

    /// Safe: `slots` has `batch` entries, each pointing at its own
    /// `slotStride`-byte region of `buffer` with a capacity below it.
    private func receiveBatch() -> Int {
        let count = Int32(DatagramWorker.batch)
        let n = slots.withUnsafeMutableBufferPointer { cnet_udp_recv_batch(fd, $0.baseAddress, count) }
        if n >= 0 { return Int(n) }
        if n != -EAGAIN && !receiveErrorLogged {
            // Not expected on an unconnected socket; logged once, and the
            // loop waits for the next readiness instead of spinning.
            receiveErrorLogged = true
            logger.warning("udp_receive_failed", metadata: ["errno": "\(Errno(rawValue: n).name)"])
        }
        return 0
    }

    /// Applies the guards to slots 0..<received and moves the datagrams to
    /// echo to the front; returns how many.
    private func filter(_ received: Int) -> Int {
        let nowNs = UInt64(MonotonicClock.nanoseconds())
        var kept = 0
        var bytes: UInt64 = 0
        for index in 0..<received {
            let length = slots[index].len
            bytes &+= UInt64(length)
            let reason: DatagramDropReason?
            if slots[index].flags & CNET_UDP_TRUNCATED != 0 {
                reason = .truncated
            } else {
                let (port, key) = DatagramWorker.source(of: slots[index])
                if DatagramWorker.isReflectionPort(port) {
                    reason = .reflectionPort
                } else if !limiter.admit(key, nowNs: nowNs) {
                    reason = .rateLimited
                } else {
                    reason = nil
                }
            }
            if let reason {
                counters.addDropped(reason)
                continue
            }
            if kept != index { slots.swapAt(kept, index) }
            kept += 1
        }
        counters.add(.received, UInt64(received))
        counters.add(.bytesIn, bytes)
        return kept
    }

    /// Sends slots 0..<count back. A full send buffer gets one short wait
    /// (this thread serves nothing else); what still cannot go is dropped:
    /// UDP promises no delivery, and holding it would stall receiving.
    private func echo(_ count: Int) {
        var sent = 0
        var waited = false
        while sent < count {
            let n = sendBatch(from: sent, count: count - sent)
            if n > 0 {
                for index in sent..<(sent + n) { counters.add(.bytesOut, UInt64(slots[index].len)) }
                counters.add(.sent, UInt64(n))
                sent += n
            } else if n == -Int(EAGAIN) && !waited {
                waited = true
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, 50)
            } else if n == -Int(EAGAIN) {
                counters.addDropped(.sendFailed, UInt64(count - sent))
                return
            } else {
                // This datagram cannot be sent (e.g. an unroutable source):
                // count it and go on with the next.
                counters.addDropped(.sendFailed)
                sent += 1
            }
        }
    }

    /// Safe: `start + count` is within `slots` (checked by the caller's loop).
    private func sendBatch(from start: Int, count: Int) -> Int {
        Int(
            slots.withUnsafeBufferPointer { pointer in
                cnet_udp_send_batch(fd, pointer.baseAddress! + start, Int32(count))
            })
    }

    /// The classic services whose replies could loop with ours, and port 0
    /// (not a valid source).
    static func isReflectionPort(_ port: UInt16) -> Bool {
        port == 0 || port == 7 || port == 13 || port == 17 || port == 19
    }

    /// The source port and rate-limit key of a received slot. Safe: reads
    /// the sockaddr_storage as bytes at the offsets of sockaddr_in
    /// (port 2, address 4) and sockaddr_in6 (port 2, address 8).
    static func source(of slot: cnet_udp_dgram) -> (UInt16, SourceRateLimiter.Key) {
        withUnsafeBytes(of: slot.peer) { raw in
            let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            if slot.peer.ss_family == sa_family_t(AF_INET) {
                let address = UInt64(raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                return (port, SourceRateLimiter.Key(high: 0, low: 0xFFFF_0000_0000 | address))
            }
            let high = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let low = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            // An IPv4 source on a dual-stack socket (::ffff:a.b.c.d) keys
            // the same as on an IPv4 socket.
            if high == 0 && UInt32(truncatingIfNeeded: low) == 0xFFFF_0000 {
                let address = UInt64(raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
                return (port, SourceRateLimiter.Key(high: 0, low: 0xFFFF_0000_0000 | address))
            }
            return (port, SourceRateLimiter.Key(high: high, low: low))
        }
    }

    /// One `udp_datagrams_dropped` line with the drops since the last one,
    /// at most once a second, only when something was dropped.
    private func logDropsIfDue(force: Bool = false) {
        let now = MonotonicClock.coarseMilliseconds()
        guard force || now - lastDropLogMs >= 1000 else { return }
        var fields: Logger.Metadata = [:]
        var total: UInt64 = 0
        for reason in DatagramDropReason.allCases {
            let value = counters.dropped(reason)
            let delta = value &- loggedDrops[reason.rawValue]
            loggedDrops[reason.rawValue] = value
            total &+= delta
            fields[reason.label] = .stringConvertible(delta)
        }
        guard total > 0 else { return }
        fields["dropped"] = .stringConvertible(total)
        fields["interval_ms"] = .stringConvertible(lastDropLogMs == 0 ? 0 : now - lastDropLogMs)
        lastDropLogMs = now
        logger.warning("udp_datagrams_dropped", metadata: fields)
    }
}

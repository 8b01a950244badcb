import CNetShim

/// One epoll instance and a wake-up eventfd, confined to the thread that
/// runs it. The echo server's workers and the load tester both drive their
/// connections with it ("one reactor, two users").
///
/// Registrations carry a caller-chosen 64-bit token; `EventLoop.Token`
/// packs a slot index and a generation so a stale event for a reused
/// descriptor number is recognised and ignored.
public final class EventLoop {
    /// Event bits, as epoll reports and takes them.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let read = Events(rawValue: CNET_EV_READ)
        public static let write = Events(rawValue: CNET_EV_WRITE)
        public static let error = Events(rawValue: CNET_EV_ERROR)
        public static let hangup = Events(rawValue: CNET_EV_HANGUP)
        /// Registration only: wake one of the loops sharing a descriptor.
        public static let exclusive = Events(rawValue: CNET_EV_EXCLUSIVE)
    }

    /// The token of the loop's own wake-up eventfd.
    public static let wakeToken: UInt64 = .max

    public let epollFD: Int32
    /// Writing to it (see `waker`) makes `wait` return with `wakeToken`.
    public let wakeFD: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    public let maxEvents: Int

    public init(maxEvents: Int = 512) throws(TrustError) {
        let epollFD = try Errno.check(cnet_epoll_create(), "epoll_create")
        let wakeFD: Int32
        do {
            wakeFD = try Errno.check(cnet_eventfd_create(), "eventfd")
        } catch {
            _ = cnet_close(epollFD)
            throw error
        }
        let added = cnet_epoll_add(epollFD, wakeFD, CNET_EV_READ, EventLoop.wakeToken)
        if added < 0 {
            _ = cnet_close(wakeFD)
            _ = cnet_close(epollFD)
            throw TrustError.system(Errno(rawValue: added), operation: "epoll_ctl(eventfd)")
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        self.maxEvents = maxEvents
        self.events = .allocate(capacity: maxEvents)
    }

    deinit {
        events.deallocate()
        _ = cnet_close(wakeFD)
        _ = cnet_close(epollFD)
    }

    /// A handle other threads use to wake this loop.
    public var waker: Waker { Waker(fd: wakeFD) }

    public func add(_ fd: Int32, _ interest: Events, token: UInt64) -> Errno? {
        let rc = cnet_epoll_add(epollFD, fd, interest.rawValue, token)
        return rc < 0 ? Errno(rawValue: rc) : nil
    }

    public func modify(_ fd: Int32, _ interest: Events, token: UInt64) -> Errno? {
        let rc = cnet_epoll_modify(epollFD, fd, interest.rawValue, token)
        return rc < 0 ? Errno(rawValue: rc) : nil
    }

    public func remove(_ fd: Int32) {
        _ = cnet_epoll_remove(epollFD, fd)
    }

    /// Wait up to `timeoutMs` (negative: forever). Returns how many events
    /// are ready (0 after a timeout or an interrupted wait); read them with
    /// `token(at:)` and `events(at:)`.
    ///
    /// Any other failure (a closed or invalid epoll descriptor, EFAULT) would
    /// repeat on every call, so it is an error: the loop ends rather than
    /// spinning on "no events".
    @inline(__always)
    public func wait(timeoutMs: Int32) throws(TrustError) -> Int {
        let n = cnet_epoll_wait(epollFD, events, Int32(maxEvents), timeoutMs)
        if n >= 0 { return Int(n) }
        throw TrustError.system(Errno(rawValue: n), operation: "epoll_wait")
    }

    @inline(__always)
    public func token(at index: Int) -> UInt64 { cnet_epoll_event_token(events, Int32(index)) }

    @inline(__always)
    public func events(at index: Int) -> Events { Events(rawValue: cnet_epoll_event_flags(events, Int32(index))) }

    /// Consume pending wake-ups (call when `wakeToken` is reported).
    public func drainWakeups() { _ = cnet_eventfd_drain(wakeFD) }

    /// Wakes an `EventLoop` from any thread; async-signal-safe.
    public struct Waker: Sendable {
        let fd: Int32
        public func wake() { _ = cnet_eventfd_signal(fd) }
    }
}

extension EventLoop {
    /// Packs a slot index (the server's is the descriptor number, the load
    /// tester's its own slot number) and the slot's generation into a token.
    public enum Token {
        @inline(__always)
        public static func make(slot: Int32, generation: UInt32) -> UInt64 {
            UInt64(generation) << 32 | UInt64(UInt32(bitPattern: slot))
        }
        @inline(__always)
        public static func slot(_ token: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: token)) }
        @inline(__always)
        public static func generation(_ token: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: token >> 32) }
    }
}

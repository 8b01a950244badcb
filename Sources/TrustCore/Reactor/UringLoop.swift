import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// One io_uring instance of a worker: the ring (SINGLE_ISSUER |
/// DEFER_TASKRUN when the kernel takes them) and one provided buffer ring
/// that multishot receives fill. Confined to the thread that runs it, like
/// `EventLoop`.
///
/// Every request carries a 64-bit tag: an operation kind, a slot and the
/// slot's generation (`UringLoop.Tag`), so a completion for a connection
/// that has since closed is recognised.
final class UringLoop {
    /// Operation kinds in a tag.
    enum Kind: UInt8 {
        case wake = 1
        case accept
        case receive
        case send
        case poll
        case cancel
    }

    enum Tag {
        @inline(__always)
        static func make(_ kind: Kind, slot: Int32, generation: UInt32) -> UInt64 {
            cnet_uring_user_data(kind.rawValue, UInt32(bitPattern: slot), generation)
        }
        @inline(__always)
        static func kind(_ tag: UInt64) -> UInt8 { cnet_uring_user_data_kind(tag) }
        @inline(__always)
        static func slot(_ tag: UInt64) -> Int32 { Int32(bitPattern: cnet_uring_user_data_slot(tag)) }
        /// 24 bits of the slot generation.
        @inline(__always)
        static func generation(_ tag: UInt64) -> UInt32 { cnet_uring_user_data_generation(tag) }
        @inline(__always)
        static func sameGeneration(_ tag: UInt64, _ generation: UInt32) -> Bool {
            cnet_uring_user_data_generation(tag) == generation & 0xFF_FFFF
        }
    }

    let ring: OpaquePointer
    let buffers: OpaquePointer
    let bufferSize: Int
    let wakeFD: Int32
    /// The 8 bytes the wake-up eventfd's read lands in.
    private let wakeCounter: UnsafeMutablePointer<UInt64>

    /// - Parameters:
    ///   - bufferCount: buffers in the provided ring (a power of two).
    ///   - headroom: writable bytes in front of every buffer
    ///     (`StreamHandler.prefixRoom`).
    ///   - wakeFD: the loop's wake-up eventfd (its `EventLoop`'s, so one
    ///     `Waker` serves either backend).
    init(entries: UInt32, bufferCount: UInt32, bufferSize: Int, headroom: Int, wakeFD: Int32) throws(TrustError) {
        var ring: OpaquePointer?
        let created = cnet_uring_create(entries, entries * 4, UInt32(CNET_URING_SETUP_PREFERRED), &ring)
        guard created == 0, let ring else {
            throw TrustError.system(Errno(rawValue: created), operation: "io_uring_setup")
        }
        var buffers: OpaquePointer?
        let registered = cnet_uring_bufring_create_headroom(
            ring, 0, bufferCount, UInt32(bufferSize), UInt32(headroom), &buffers)
        guard registered == 0, let buffers else {
            cnet_uring_destroy(ring)
            throw TrustError.system(Errno(rawValue: registered), operation: "io_uring buffer ring")
        }
        self.ring = ring
        self.buffers = buffers
        self.bufferSize = bufferSize
        self.wakeFD = wakeFD
        self.wakeCounter = .allocate(capacity: 1)
    }

    deinit {
        // The ring goes first: the kernel cancels what is in flight, so no
        // request can still write into the wake counter or a buffer.
        cnet_uring_destroy(ring)
        wakeCounter.deallocate()
    }

    /// The flags the kernel accepted (for `server_started`).
    var setupFlags: UInt32 {
        var info = cnet_uring_info()
        cnet_uring_get_info(ring, &info)
        return info.setup_flags
    }

    /// Arm (again) the read of the wake-up eventfd.
    func armWake() -> Int32 {
        cnet_uring_prep_read(ring, wakeFD, wakeCounter, 8, Tag.make(.wake, slot: 0, generation: 0))
    }

    /// The memory of a delivered buffer.
    @inline(__always)
    func buffer(_ id: UInt16) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(cnet_uring_bufring_buffer(buffers, id))
    }

    @inline(__always)
    func returnBuffer(_ id: UInt16) { _ = cnet_uring_bufring_return(buffers, id) }

    /// Submits what was queued and waits for at least one completion or the
    /// timeout (milliseconds; negative: none). The loop's one system call.
    @inline(__always)
    func submitAndWait(timeoutMs: Int32) throws(TrustError) {
        let timeoutNs: Int64 = timeoutMs < 0 ? -1 : Int64(timeoutMs) * 1_000_000
        let rc = cnet_uring_submit_and_wait(ring, 1, timeoutNs)
        if rc >= 0 || rc == -EBUSY || rc == -EAGAIN || rc == -EINTR || rc == -ETIME { return }
        throw TrustError.system(Errno(rawValue: rc), operation: "io_uring_enter")
    }

    /// Calls `body` with every ready completion (tag, result, flags), then
    /// hands their slots back to the kernel.
    @inline(__always)
    func forEachCompletion(_ body: (UInt64, Int32, UInt32) -> Void) {
        while true {
            var first: UnsafePointer<cnet_uring_cqe>?
            let count = cnet_uring_peek(ring, &first)
            guard count > 0, let first else { return }
            for index in 0..<Int(count) {
                let cqe = first[index]
                body(cqe.user_data, cqe.res, cqe.flags)
            }
            cnet_uring_cq_advance(ring, count)
        }
    }
}

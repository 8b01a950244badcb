import CNetShim
import Glibc

/// One completion copied out of the ring, so a test can keep it after the
/// CQ slot went back to the kernel.
struct UringCompletion: Equatable, CustomStringConvertible {
    let userData: UInt64
    let result: Int32
    let flags: UInt32

    var more: Bool { cnet_uring_cqe_has_more(flags) != 0 }
    var bufferID: UInt16? { cnet_uring_cqe_has_buffer(flags) != 0 ? cnet_uring_cqe_buffer_id(flags) : nil }

    var description: String {
        let res = result < 0 ? ShimFailure.errnoName(Int(result)) : String(result)
        return "{ud \(userData) res \(res) more \(more) buffer \(bufferID.map(String.init) ?? "-")}"
    }
}

/// A cnet_uring ring owned by a test, with bounded waits for completions.
/// Create and use it on one thread: SINGLE_ISSUER binds it to its creator.
final class UringRing {
    static let safetyTimeout: Duration = .seconds(10)

    let handle: OpaquePointer

    init(sqEntries: UInt32 = 64, cqEntries: UInt32 = 0, flags: UInt32 = CNET_URING_SETUP_PREFERRED) throws {
        var ring: OpaquePointer?
        try ShimFailure.check(cnet_uring_create(sqEntries, cqEntries, flags, &ring), "cnet_uring_create")
        guard let ring else { throw ShimFailure(operation: "cnet_uring_create returned no ring", code: -Int(EINVAL)) }
        handle = ring
    }

    deinit { cnet_uring_destroy(handle) }

    var info: cnet_uring_info {
        var info = cnet_uring_info()
        cnet_uring_get_info(handle, &info)
        return info
    }

    /// Checks a prep call's result.
    func prep(_ result: Int32, _ operation: String) throws {
        try ShimFailure.check(result, operation)
    }

    /// A provided buffer ring owned by this ring.
    func bufferRing(group: UInt16 = 0, entries: UInt32, bufferSize: UInt32) throws -> UringBufferRing {
        var bufring: OpaquePointer?
        try ShimFailure.check(
            cnet_uring_bufring_create(handle, group, entries, bufferSize, &bufring), "cnet_uring_bufring_create")
        guard let bufring else {
            throw ShimFailure(operation: "cnet_uring_bufring_create returned nothing", code: -Int(EINVAL))
        }
        return UringBufferRing(handle: bufring)
    }

    /// Every completion ready now, in order, each marked seen.
    func reap() -> [UringCompletion] {
        var completions: [UringCompletion] = []
        while let batch = peekBatch(), !batch.isEmpty {
            completions.append(contentsOf: batch)
            cnet_uring_cq_advance(handle, UInt32(batch.count))
        }
        return completions
    }

    /// One cnet_uring_peek run, copied (nil when nothing is ready).
    func peekBatch() -> [UringCompletion]? {
        var first: UnsafePointer<cnet_uring_cqe>?
        let count = Int(cnet_uring_peek(handle, &first))
        guard count > 0, let first else { return nil }
        // Safe: cnet_uring_peek says `count` entries follow `first` contiguously,
        // and they stay valid until cnet_uring_cq_advance, which runs after the copy.
        return UnsafeBufferPointer(start: first, count: count).map {
            UringCompletion(userData: $0.user_data, result: $0.res, flags: $0.flags)
        }
    }

    /// Submits, then waits until `count` completions arrived (fewer only if
    /// the safety timeout passes; the caller's assertions then fail).
    func collect(_ count: Int, timeout: Duration = safetyTimeout) throws -> [UringCompletion] {
        try collect(timeout: timeout) { $0.count >= count }
    }

    /// Submits, then waits until `done` holds for what arrived so far.
    func collect(timeout: Duration = safetyTimeout, until done: ([UringCompletion]) -> Bool) throws
        -> [UringCompletion]
    {
        let deadline = ContinuousClock.now + timeout
        var completions = reap()
        while !done(completions) {
            let left = deadline - ContinuousClock.now
            if left <= .zero { break }
            let ready = cnet_uring_submit_and_wait(handle, 1, Self.nanoseconds(left))
            try ShimFailure.check(ready, "cnet_uring_submit_and_wait")
            completions.append(contentsOf: reap())
        }
        return completions
    }

    /// Submits what is queued without waiting for anything.
    func submit() throws {
        try ShimFailure.check(cnet_uring_submit(handle), "cnet_uring_submit")
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A provided buffer ring: read what a CQE delivered, hand buffers back.
struct UringBufferRing {
    let handle: OpaquePointer

    var entries: UInt32 { cnet_uring_bufring_entries(handle) }
    var bufferSize: UInt32 { cnet_uring_bufring_buffer_size(handle) }

    /// The first `count` bytes of buffer `id`.
    func bytes(_ id: UInt16, count: Int) -> [UInt8] {
        precondition(UInt32(id) < entries && count >= 0 && count <= Int(bufferSize))
        // Safe: the mapping holds entries * bufferSize bytes, and id and count
        // were checked against both just above.
        let start = cnet_uring_bufring_base(handle) + Int(id) * Int(bufferSize)
        return Array(UnsafeBufferPointer(start: start, count: count))
    }

    func giveBack(_ id: UInt16) throws {
        try ShimFailure.check(cnet_uring_bufring_return(handle, id), "cnet_uring_bufring_return")
    }
}

/// A TCP connection whose server end has a multishot recv armed into a
/// fresh buffer ring: the setup the recv, cancel and wait tests share.
struct UringArmedRecv {
    let pair: LoopbackPair
    let ring: UringRing
    let buffers: UringBufferRing
    let tag: UInt64

    /// submit: false leaves the recv queued, for a test of the submit itself.
    init(entries: UInt32, bufferSize: UInt32, tag: UInt64, submit: Bool = true) throws {
        pair = try LoopbackPair.tcp()
        ring = try UringRing()
        buffers = try ring.bufferRing(entries: entries, bufferSize: bufferSize)
        self.tag = tag
        try rearm()
        if submit { try ring.submit() }
    }

    /// Queues the multishot recv again (after a CQE without F_MORE).
    func rearm() throws {
        try ring.prep(cnet_uring_prep_recv_multishot(ring.handle, pair.server, buffers.handle, tag), "recv")
    }
}

import CNetShim
import Foundation
import Glibc
import XCTest

/// cnet_uring_create's flags and fallback, cnet_uring_probe on a kernel
/// that allows io_uring, the buffer ring's argument checks and the user_data
/// layout.
final class UringSetupTests: XCTestCase {
    /// This kernel (6.x) takes SINGLE_ISSUER | DEFER_TASKRUN | SUBMIT_ALL at
    /// the first try, and the ring fd is registered and close-on-exec.
    func testCreateTakesThePreferredFlagsAtTheFirstAttempt() throws {
        let ring = try UringRing(sqEntries: 50)
        let info = ring.info
        XCTAssertEqual(info.setup_flags, CNET_URING_SETUP_PREFERRED)
        XCTAssertEqual(info.attempts, 1)
        XCTAssertEqual(info.ring_fd_registered, 1)
        XCTAssertEqual(info.sq_entries, 64, "rounded up to a power of two")
        XCTAssertEqual(info.cq_entries, 128, "the kernel's default is twice the SQ")
        let fd = cnet_uring_fd(ring.handle)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertNotEqual(ShimIO.descriptorFlags(fd) & FD_CLOEXEC, 0, "ring fd must be close-on-exec")
    }

    func testCompletionQueueSizeIsHonoured() throws {
        let ring = try UringRing(sqEntries: 16, cqEntries: 1000)
        XCTAssertEqual(ring.info.sq_entries, 16)
        XCTAssertEqual(ring.info.cq_entries, 1024)
    }

    /// A flag the kernel does not know is refused with EINVAL; the ladder
    /// drops it first and keeps the rest.
    func testUnknownFlagIsDroppedAndTheFallbackReported() throws {
        let ring = try UringRing(flags: CNET_URING_SETUP_PREFERRED | 0x4000_0000)
        XCTAssertEqual(ring.info.setup_flags, CNET_URING_SETUP_PREFERRED)
        XCTAssertEqual(ring.info.attempts, 2)
    }

    /// The kernel refuses DEFER_TASKRUN without SINGLE_ISSUER; the ladder
    /// replaces it with COOP_TASKRUN, and the ring works.
    func testRefusedDeferTaskrunFallsBackToCoopTaskrun() throws {
        let ring = try UringRing(flags: CNET_URING_SETUP_DEFER_TASKRUN | CNET_URING_SETUP_SUBMIT_ALL)
        XCTAssertEqual(ring.info.setup_flags, CNET_URING_SETUP_COOP_TASKRUN | CNET_URING_SETUP_SUBMIT_ALL)
        XCTAssertEqual(ring.info.attempts, 2)
        try ring.prep(cnet_uring_prep_nop(ring.handle, 7), "nop")
        XCTAssertEqual(try ring.collect(1), [UringCompletion(userData: 7, result: 0, flags: 0)])
    }

    func testBadSizesAreRejected() {
        var ring: OpaquePointer?
        XCTAssertEqual(cnet_uring_create(0, 0, 0, &ring), -EINVAL)
        XCTAssertEqual(cnet_uring_create(65536, 0, 0, &ring), -EINVAL)
        XCTAssertEqual(cnet_uring_create(64, 32, 0, &ring), -EINVAL, "CQ smaller than SQ")
        XCTAssertEqual(cnet_uring_create(8, 0, 0, nil), -EINVAL)
        XCTAssertNil(ring)
    }

    /// SINGLE_ISSUER and the registered ring fd bind a ring to the thread
    /// that created it: another thread cannot submit, its creator still can.
    func testRingIsBoundToTheThreadThatCreatedIt() throws {
        let ring = try UringRing()
        try ring.prep(cnet_uring_prep_nop(ring.handle, 1), "nop")
        let handle = SendableRingHandle(handle: ring.handle)
        let result = ResultBox<Int32>()
        let other = TestThread.start { result.set(cnet_uring_submit(handle.handle)) }
        XCTAssertTrue(other.join())
        XCTAssertLessThan(try XCTUnwrap(result.value), 0, "a submit from another thread must fail")
        XCTAssertEqual(try ring.collect(1).map(\.userData), [1], "the creator submits the queued SQE")
    }

    /// With io_uring allowed (as here) the probe finds every feature the
    /// backend needs and explains nothing.
    func testProbeReportsUsableWithThePreferredFlags() throws {
        var support = cnet_uring_support()
        XCTAssertEqual(cnet_uring_probe(&support), 0)
        XCTAssertEqual(support.error, 0)
        XCTAssertEqual(support.step, CNET_URING_STEP_NONE)
        XCTAssertEqual(support.setup_flags, CNET_URING_SETUP_PREFERRED)
        XCTAssertEqual(String(cString: cnet_uring_support_reason(&support)), "")
        let sysctl = ProcFile.read("/proc/sys/kernel/io_uring_disabled")
        let expected = sysctl.flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? -1
        XCTAssertEqual(support.disabled_sysctl, expected)
        XCTAssertEqual(cnet_uring_probe(nil), -EINVAL)
    }

    func testBufferRingRejectsBadSizesAndDuplicateGroups() throws {
        let ring = try UringRing()
        var bufring: OpaquePointer?
        XCTAssertEqual(cnet_uring_bufring_create(ring.handle, 1, 3, 64, &bufring), -EINVAL, "not a power of two")
        XCTAssertEqual(cnet_uring_bufring_create(ring.handle, 1, 65536, 64, &bufring), -EINVAL, "too many")
        XCTAssertEqual(cnet_uring_bufring_create(ring.handle, 1, 4, 0, &bufring), -EINVAL, "empty buffers")
        XCTAssertNil(bufring)
        let first = try ring.bufferRing(group: 1, entries: 4, bufferSize: 100)
        XCTAssertEqual(first.entries, 4)
        XCTAssertEqual(first.bufferSize, 100)
        XCTAssertEqual(cnet_uring_bufring_group(first.handle), 1)
        XCTAssertEqual(cnet_uring_bufring_create(ring.handle, 1, 4, 64, &bufring), -EEXIST)
        XCTAssertEqual(cnet_uring_bufring_return(first.handle, 4), -EINVAL, "id outside the ring")
    }

    /// Destroying a buffer ring unregisters its group, so the id is free again.
    func testBufferRingDestroyFreesItsGroup() throws {
        let ring = try UringRing()
        let first = try ring.bufferRing(group: 5, entries: 8, bufferSize: 64)
        cnet_uring_bufring_destroy(first.handle)
        let second = try ring.bufferRing(group: 5, entries: 8, bufferSize: 64)
        XCTAssertEqual(cnet_uring_bufring_group(second.handle), 5)
    }

    /// The suggested user_data layout: kind, 24-bit generation, 32-bit slot.
    func testUserDataLayoutRoundTrips() {
        let tag = cnet_uring_user_data(3, 0xdead_beef, 0x0123_4567)
        XCTAssertEqual(cnet_uring_user_data_kind(tag), 3)
        XCTAssertEqual(cnet_uring_user_data_slot(tag), 0xdead_beef)
        XCTAssertEqual(cnet_uring_user_data_generation(tag), 0x23_4567, "the generation keeps 24 bits")
        XCTAssertEqual(tag, 0x0323_4567_dead_beef)
        XCTAssertNotEqual(cnet_uring_user_data(254, .max, .max), .max, "never all ones")
    }
}

/// A ring handle passed to another thread on purpose, to show the kernel
/// refuses it there.
struct SendableRingHandle: @unchecked Sendable {
    let handle: OpaquePointer
}

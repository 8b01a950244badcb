import CNetShim
import CNetShimTestSupport
import Glibc
import XCTest

/// cnet_uring_probe where the kernel really refuses io_uring: on one test
/// thread made to look like a container (a seccomp filter) or an
/// unprivileged service (another user under RLIMIT_MEMLOCK), so the rest of
/// the test process and the machine keep io_uring.
final class UringProbeRefusalTests: XCTestCase {
    /// What a probe on a sandboxed thread saw.
    struct ProbeOutcome: Sendable {
        let sandbox: Int32
        let returned: Int32
        let error: Int32
        let step: Int32
        let reason: String
        let create: Int32
    }

    /// Runs the probe (and a plain cnet_uring_create) on a fresh thread
    /// after `sandbox` restricted that thread.
    private func probeOnSandboxedThread(_ sandbox: @escaping @Sendable () -> Int32) throws -> ProbeOutcome {
        let outcome = ResultBox<ProbeOutcome>()
        let thread = TestThread.start {
            let sandboxed = sandbox()
            var support = cnet_uring_support()
            let returned = cnet_uring_probe(&support)
            var ring: OpaquePointer?
            let create = cnet_uring_create(8, 0, CNET_URING_SETUP_PREFERRED, &ring)
            cnet_uring_destroy(ring)
            outcome.set(
                ProbeOutcome(
                    sandbox: sandboxed, returned: returned, error: support.error, step: support.step,
                    reason: String(cString: cnet_uring_support_reason(&support)), create: create))
        }
        XCTAssertTrue(thread.join(), "the probe thread did not finish")
        return try XCTUnwrap(outcome.value)
    }

    /// Docker's default seccomp profile answers io_uring_setup with EPERM.
    func testSeccompEPERMIsReportedAsASeccompFilter() throws {
        let outcome = try probeOnSandboxedThread { cnet_test_thread_deny_io_uring_setup(EPERM) }
        XCTAssertEqual(outcome.sandbox, 0, "installing the filter: \(ShimFailure.errnoName(Int(outcome.sandbox)))")
        XCTAssertEqual(outcome.returned, -EPERM)
        XCTAssertEqual(outcome.error, -EPERM)
        XCTAssertEqual(outcome.step, CNET_URING_STEP_SETUP)
        XCTAssertTrue(outcome.reason.contains("seccomp"), outcome.reason)
        XCTAssertTrue(outcome.reason.contains("EPERM"), outcome.reason)
        XCTAssertEqual(outcome.create, -EPERM, "no fallback past a refusal that is not EINVAL")
        assertThisThreadStillHasIOUring()
    }

    /// Some sandboxes answer ENOSYS, as if the kernel had no io_uring.
    func testSeccompENOSYSIsReportedAsASeccompFilter() throws {
        let outcome = try probeOnSandboxedThread { cnet_test_thread_deny_io_uring_setup(ENOSYS) }
        XCTAssertEqual(outcome.sandbox, 0, "installing the filter: \(ShimFailure.errnoName(Int(outcome.sandbox)))")
        XCTAssertEqual(outcome.error, -ENOSYS)
        XCTAssertEqual(outcome.step, CNET_URING_STEP_SETUP)
        XCTAssertTrue(outcome.reason.contains("seccomp"), outcome.reason)
        XCTAssertTrue(outcome.reason.contains("ENOSYS"), outcome.reason)
        assertThisThreadStillHasIOUring()
    }

    /// An unprivileged user's ring is charged to RLIMIT_MEMLOCK; at 0 the
    /// kernel answers ENOMEM.  Root keeps CAP_IPC_LOCK (exempt), so the
    /// lowered soft limit touches nothing else in this process.
    func testMemlockLimitIsReportedAsENOMEMWithTheLimit() throws {
        var saved = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &saved), 0)
        var lowered = saved
        lowered.rlim_cur = 0
        XCTAssertEqual(setrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &lowered), 0)
        defer { XCTAssertEqual(setrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &saved), 0) }

        let nobody: UInt32 = 65534
        let outcome = try probeOnSandboxedThread { cnet_test_thread_become(nobody, nobody) }
        XCTAssertEqual(outcome.sandbox, 0, "becoming nobody: \(ShimFailure.errnoName(Int(outcome.sandbox)))")
        XCTAssertEqual(outcome.error, -ENOMEM)
        XCTAssertEqual(outcome.step, CNET_URING_STEP_SETUP)
        XCTAssertTrue(outcome.reason.contains("RLIMIT_MEMLOCK is 0 KiB"), outcome.reason)
        XCTAssertEqual(outcome.create, -ENOMEM)
    }

    /// The refusal stayed on the sandboxed thread.
    private func assertThisThreadStillHasIOUring(file: StaticString = #filePath, line: UInt = #line) {
        var support = cnet_uring_support()
        XCTAssertEqual(
            cnet_uring_probe(&support), 0, String(cString: cnet_uring_support_reason(&support)),
            file: file, line: line)
    }
}

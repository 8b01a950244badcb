import CNetShim
import Glibc
import XCTest

/// cnet_tcp_connect_list: every address tried, RFC 8305 style (IPv6 first,
/// families interleaved, the next attempt after 250 ms or at once when one
/// fails), the first to connect wins, the others are closed.
final class HappyEyeballsTests: XCTestCase {
    private let timeout = LoopbackPair.safetyTimeoutMilliseconds

    /// Stock Debian: localhost is [::1, 127.0.0.1] and the server listens
    /// on IPv4 only. The IPv6 attempt is refused, the IPv4 one connects.
    func testRefusedIPv6AddressFallsBackToListeningIPv4() throws {
        let v6 = try TestEndpoint.refusing("::1")
        let v4 = try TestEndpoint.accepting("127.0.0.1")
        try assertConnects([v6.address, v4.address], timeout: timeout, choosing: 1, then: v4)
    }

    /// IPv6 goes first whatever the list's order: with both listening, the
    /// IPv6 attempt starts at once and connects long before the 250 ms
    /// after which the IPv4 one would start.
    func testIPv6IsTriedFirstWhenBothFamiliesListen() throws {
        let v4 = try TestEndpoint.accepting("127.0.0.1")
        let v6 = try TestEndpoint.accepting("::1")
        try assertConnects([v4.address, v6.address], timeout: timeout, choosing: 1, then: v6)
    }

    /// The families take turns: [v4 A, v6 refused, v6 B] is tried as
    /// v6 refused, v4 A, v6 B, so A (the next family after the refusal)
    /// wins; trying all IPv6 first would pick B.
    func testFamiliesAreInterleavedAfterTheFirstIPv6Address() throws {
        let a = try TestEndpoint.accepting("127.0.0.1")
        let refused = try TestEndpoint.refusing("::1")
        let b = try TestEndpoint.accepting("::1")
        try assertConnects([a.address, refused.address, b.address], timeout: timeout, choosing: 0, then: a)
    }

    /// An attempt that gets no answer stays in flight while the next
    /// address is tried beside it: here the first address never answers
    /// within the 3 s allowed, so only a parallel second attempt can
    /// connect in time (a one-after-the-other connect times out).
    func testUnansweredAttemptDoesNotHoldUpTheNextAddress() throws {
        let silent = try TestEndpoint.unanswering("127.0.0.1")
        let good = try TestEndpoint.accepting("127.0.0.1")
        let before = openSocketCount()
        try assertConnects([silent.address, good.address], timeout: 3000, choosing: 1, then: good) {
            XCTAssertEqual(openSocketCount(), before + 1, "the unanswered attempt must be closed, the winner kept")
        }
    }

    /// The timeout bounds the whole call, not each attempt, and every
    /// attempt still in flight is closed.
    func testTimeoutBoundsTheWholeCallAndClosesEveryAttempt() throws {
        let first = try TestEndpoint.unanswering("127.0.0.1")
        let second = try TestEndpoint.unanswering("127.0.0.1")
        let before = openSocketCount()
        let result = ShimConnect.list([first.address, second.address], timeoutMilliseconds: 600)
        if result.fd >= 0 { _ = cnet_close(result.fd) }
        XCTAssertEqual(result.fd, -ETIMEDOUT, "got \(ShimFailure.errnoName(Int(result.fd)))")
        XCTAssertEqual(result.chosen, -1, "nothing was chosen")
        XCTAssertEqual(openSocketCount(), before, "attempts left open")
    }

    /// When every address fails, the error is the last failure's.
    func testEveryAddressRefusedGivesTheLastError() throws {
        let v6 = try TestEndpoint.refusing("::1")
        let v4 = try TestEndpoint.refusing("127.0.0.1")
        let before = openSocketCount()
        let result = ShimConnect.list([v4.address, v6.address], timeoutMilliseconds: timeout)
        if result.fd >= 0 { _ = cnet_close(result.fd) }
        XCTAssertEqual(result.fd, -ECONNREFUSED, "got \(ShimFailure.errnoName(Int(result.fd)))")
        XCTAssertEqual(openSocketCount(), before)

        let unsupported = ShimConnect.list([TestEndpoint.unsupportedFamily()], timeoutMilliseconds: timeout)
        XCTAssertEqual(unsupported.fd, -EAFNOSUPPORT, "got \(ShimFailure.errnoName(Int(unsupported.fd)))")
    }

    /// An attempt that fails inside connect() itself does not wait out the
    /// attempt delay: the next address starts at once.
    func testAttemptThatFailsAtOnceMovesToTheNextAddress() throws {
        let good = try TestEndpoint.accepting("127.0.0.1")
        try assertConnects([TestEndpoint.unsupportedFamily(), good.address], timeout: timeout, choosing: 1, then: good)
    }

    /// The winner is blocking unless CNET_NONBLOCK, and close-on-exec.
    func testWinnerIsBlockingUnlessNonBlockIsAsked() throws {
        let good = try TestEndpoint.accepting("127.0.0.1")
        let blocking = ShimConnect.list([good.address], timeoutMilliseconds: timeout)
        let nonBlocking = ShimConnect.list([good.address], timeoutMilliseconds: timeout, flags: CNET_NONBLOCK)
        defer {
            for fd in [blocking.fd, nonBlocking.fd] where fd >= 0 { _ = cnet_close(fd) }
        }
        XCTAssertGreaterThanOrEqual(blocking.fd, 0)
        XCTAssertGreaterThanOrEqual(nonBlocking.fd, 0)
        XCTAssertEqual(ShimIO.statusFlags(blocking.fd) & O_NONBLOCK, 0)
        XCTAssertNotEqual(ShimIO.statusFlags(nonBlocking.fd) & O_NONBLOCK, 0)
        XCTAssertNotEqual(ShimIO.descriptorFlags(blocking.fd) & FD_CLOEXEC, 0)
        XCTAssertEqual(blocking.chosen, 0)
    }

    func testEmptyOrMissingListIsEINVAL() {
        XCTAssertEqual(ShimConnect.list([], timeoutMilliseconds: timeout).fd, -EINVAL)
        XCTAssertEqual(cnet_tcp_connect_list(nil, 1, timeout, 0, nil), -EINVAL)
    }

    /// cnet_tcp_connect (one address) and cnet_tcp_connect_host (every
    /// address of a name) go through the same attempt logic.
    func testSingleAddressConnectAndConnectHostUseTheSameLogic() throws {
        let silent = try TestEndpoint.unanswering("127.0.0.1")
        var copy = silent.address
        let timedOut = withUnsafePointer(to: &copy.addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cnet_tcp_connect($0, copy.len, 300, 0) }
        }
        XCTAssertEqual(timedOut, -ETIMEDOUT, "got \(ShimFailure.errnoName(Int(timedOut)))")
        XCTAssertEqual(cnet_tcp_connect(nil, 0, 300, 0), -EINVAL)

        let good = try TestEndpoint.accepting("::1")
        let port = UInt16(try ShimFailure.check(cnet_local_port(try XCTUnwrap(good.listener)), "port"))
        let fd = try ShimFailure.check(cnet_tcp_connect_host("::1", port, timeout, 0), "connect_host ::1")
        defer { _ = cnet_close(fd) }
        try good.acceptAndExchange(client: fd)
    }

    /// Connects over `list`, checks the address at index `chosen` won
    /// (checks `whileConnected` with the winner still open), and that a
    /// byte goes each way over the winner accepted by `endpoint`.
    private func assertConnects(
        _ list: [cnet_address], timeout: Int32, choosing chosen: Int32, then endpoint: TestEndpoint,
        whileConnected: () -> Void = {}, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = ShimConnect.list(list, timeoutMilliseconds: timeout)
        XCTAssertGreaterThanOrEqual(
            result.fd, 0, "got \(ShimFailure.errnoName(Int(result.fd)))", file: file, line: line)
        guard result.fd >= 0 else { return }
        defer { _ = cnet_close(result.fd) }
        XCTAssertEqual(result.chosen, chosen, "index of the address that connected", file: file, line: line)
        whileConnected()
        try endpoint.acceptAndExchange(client: result.fd)
    }
}

import CNetShim
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// The echo server's small pure pieces: the ready line, the log-repeat
/// limiter, peer address formatting, close reason names.
final class EchoServerPiecesTests: XCTestCase {
    func testReadyLineFormatsHostPortModeAndWorkers() {
        XCTAssertEqual(
            EchoServer.readyLine(host: "0.0.0.0", port: 9900, mode: .auto, workers: 2),
            "listening on 0.0.0.0:9900 (mode auto, 2 workers)")
        XCTAssertEqual(
            EchoServer.readyLine(host: "::1", port: 7, mode: .framed, workers: 1),
            "listening on [::1]:7 (mode framed, 1 worker)")
        XCTAssertEqual(
            EchoServer.readyLine(host: "::", port: 40000, mode: .raw, workers: 4),
            "listening on [::]:40000 (mode raw, 4 workers)")
    }

    func testRepeatLimiterAllowsOnePerIntervalAndCountsTheRest() {
        var limiter = RepeatLimiter(intervalMs: 1000)
        XCTAssertTrue(limiter.allow(now: 5000) == (true, 0))
        XCTAssertTrue(limiter.allow(now: 5001) == (false, 1))
        XCTAssertTrue(limiter.allow(now: 5999) == (false, 2))
        // The next allowed line reports how many were held back, then the count restarts.
        XCTAssertTrue(limiter.allow(now: 6000) == (true, 2))
        XCTAssertTrue(limiter.allow(now: 6500) == (false, 1))
        XCTAssertTrue(limiter.allow(now: 9000) == (true, 1))
        XCTAssertTrue(limiter.allow(now: 20000) == (true, 0))
    }

    func testPeerAddressFormatsIPv4AndIPv6() {
        var v4 = sockaddr_storage()
        var v4Length = socklen_t(0)
        XCTAssertEqual(cnet_resolve("127.0.0.1", 4242, 0, &v4, &v4Length), 0)
        XCTAssertEqual(PeerAddress(&v4).formatted, "127.0.0.1:4242")

        var v6 = sockaddr_storage()
        var v6Length = socklen_t(0)
        XCTAssertEqual(cnet_resolve("2001:db8::7", 65535, 0, &v6, &v6Length), 0)
        XCTAssertEqual(PeerAddress(&v6).formatted, "[2001:db8::7]:65535")

        var unknown = sockaddr_storage()
        XCTAssertEqual(PeerAddress(&unknown).formatted, "unknown")
    }

    func testCloseReasonNamesAreTheSpecVocabulary() {
        let names = [
            CloseReason.peerClosed, .idleTimeout, .sendTimeout, .frameTooLarge, .truncatedFrame, .reset, .shutdown,
        ].map(\.name)
        XCTAssertEqual(
            names,
            ["peer_closed", "idle_timeout", "send_timeout", "frame_too_large", "truncated_frame", "reset", "shutdown"])
    }

    func testEchoTotalsAdd() {
        var total = EchoTotals(accepted: 1, closed: 1, refused: 0, shed: 2, forcedCloses: 0, bytesIn: 10, bytesOut: 9)
        total.add(EchoTotals(accepted: 2, closed: 1, refused: 3, shed: 0, forcedCloses: 1, bytesIn: 5, bytesOut: 5))
        XCTAssertEqual(total.accepted, 3)
        XCTAssertEqual(total.closed, 2)
        XCTAssertEqual(total.refused, 3)
        XCTAssertEqual(total.shed, 2)
        XCTAssertEqual(total.forcedCloses, 1)
        XCTAssertEqual(total.bytesIn, 15)
        XCTAssertEqual(total.bytesOut, 14)
    }
}

import CNetShim
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// The server's small pure pieces: the ready line, peer address
/// formatting, close reason names, counters (the rate limiter has its own tests).
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
        ].map(\.description)
        XCTAssertEqual(
            names,
            ["peer_closed", "idle_timeout", "send_timeout", "frame_too_large", "truncated_frame", "reset", "shutdown"])
    }

    func testServiceTotalsSumEveryWorkersCounters() {
        let first = WorkerCounters()
        let second = WorkerCounters()
        first.add(.accepted)
        first.add(.bytesIn, 10)
        first.add(.bytesOut, 9)
        first.add(.shed, 2)
        first.addClosed(code: CloseReason.peerClosed.code)
        second.add(.accepted, 2)
        second.add(.refusedMaxClients, 3)
        second.add(.forcedCloses)
        second.add(.bytesIn, 5)
        second.add(.bytesOut, 5)
        second.addClosed(code: CloseReason.idleTimeout.code)
        let protocolReason = CloseReason(code: CloseReason.firstProtocolCode, name: "bad_request")
        second.addClosed(code: protocolReason.code)
        let total = ServiceTotals([first, second], reasons: CloseReason.coreReasons + [protocolReason])
        XCTAssertEqual(total.accepted, 3)
        XCTAssertEqual(total.closed, 3)
        XCTAssertEqual(total.closedByReason["peer_closed"], 1)
        XCTAssertEqual(total.closedByReason["bad_request"], 1)
        XCTAssertEqual(total.refused, 3)
        XCTAssertEqual(total.refusedByReason["max_clients"], 3)
        XCTAssertEqual(total.shed, 2)
        XCTAssertEqual(total.forcedCloses, 1)
        XCTAssertEqual(total.bytesIn, 15)
        XCTAssertEqual(total.bytesOut, 14)
    }

    func testCloseReasonTableNamesCoreAndProtocolCodes() {
        let custom = CloseReason(code: 40, name: "custom_reason")
        let table = CloseReasonTable(protocolReasons: [custom])
        XCTAssertEqual(table[CloseReason.sendTimeout.code].description, "send_timeout")
        XCTAssertEqual(table[40].description, "custom_reason")
        XCTAssertEqual(table[200].description, "error", "an unknown code is reported as error, never a crash")
    }
}

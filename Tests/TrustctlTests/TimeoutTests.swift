import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `--timeout S`: idle and send timeouts (SPEC §6).
final class TimeoutTests: XCTestCase {
    func testIdleTimeoutClosesOnlyTheIdleClient() throws {
        let server = try startEchoServer(["--timeout", "1"])
        let idle = try server.connect()
        let talker = try server.connect()
        try talker.echoRaw(Array("first\n".utf8))
        // Taken before the idle client's last bytes leave, so the server's
        // own clock cannot start later than this one.
        let silentSince = Date()
        try idle.echoRaw(Array("then silence\n".utf8))

        // The talker keeps talking (client pacing of 100 ms, well under the
        // timeout) until the idle client has been closed.
        idle.setReceiveTimeout(ms: 50)
        var idleResult = -Int(EAGAIN)
        var messages = 0
        let deadline = Date(timeIntervalSinceNow: 15)
        while idleResult == -Int(EAGAIN) && Date() < deadline {
            try talker.echoRaw(Array("message \(messages)\n".utf8))
            messages += 1
            idleResult = idle.receiveOnce()
            if idleResult == -Int(EAGAIN) { usleep(100_000) }
        }
        XCTAssertEqual(idleResult, 0, "the idle client is closed (EOF), not reset or timed out")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(silentSince), 0.9, "closed before its timeout")
        // The talker was never idle and is still served.
        try talker.echoRaw(Array("still served\n".utf8))
        XCTAssertGreaterThan(messages, 1)

        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: idle.localPort))
        XCTAssertEqual(closed.reason, "idle_timeout")
        XCTAssertNil(
            server.log.entries(event: "connection_closed").first { $0.isPeer(port: talker.localPort) },
            "the talking client was closed")
    }

    func testSendTimeoutClosesClientThatDoesNotRead() throws {
        let server = try startEchoServer(["--mode", "raw", "--timeout", "1"])
        let client = try server.connect()
        let sender = BackgroundSender(socket: client, total: 256 << 20, seed: 3)
        defer {
            client.shutdownBoth()
            sender.finish()
        }
        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort, timeout: 30))
        XCTAssertEqual(closed.reason, "send_timeout", "\(closed)")
        XCTAssertLessThan(sender.sent, 256 << 20, "backpressure must have stopped the sender")
        try server.connect().echoRaw(Array("others are served\n".utf8))
    }
}

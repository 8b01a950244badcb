import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Clients that leave badly, and running out of descriptors: the server
/// goes on serving everyone else (SPEC §6).
final class ResilienceTests: XCTestCase {
    func testClientDisconnectAlsoMidFrameDoesNotDisturbNextClient() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let polite = try server.connect()
        try polite.echoFrame(Array("bye".utf8))
        polite.close()

        // Ends mid-payload with a FIN, after taking whatever the server sent
        // (a close with unread bytes would be a reset, not a clean end).
        let midPayload = try server.connect()
        try midPayload.send(TestFrame.header(10) + [1, 2, 3])
        midPayload.shutdownWrite()
        _ = try midPayload.receiveToEnd()
        midPayload.close()

        // Ends inside a header: nothing of it is echoed, so a plain close is clean.
        let midHeader = try server.connect()
        try midHeader.send([0, 0])
        midHeader.close()

        // Just goes away mid-frame: a FIN or, if echoes were unread, a reset.
        let abrupt = try server.connect()
        try abrupt.send(TestFrame.header(50) + TestFrame.payload(count: 20, seed: 2))
        abrupt.close()

        let next = try server.connect()
        try next.echoFrame(Array("next client".utf8))
        try next.echoFrame([])

        XCTAssertEqual(server.log.waitForClose(ofClientPort: polite.localPort)?.reason, "peer_closed")
        XCTAssertEqual(server.log.waitForClose(ofClientPort: midPayload.localPort)?.reason, "truncated_frame")
        XCTAssertEqual(server.log.waitForClose(ofClientPort: midHeader.localPort)?.reason, "truncated_frame")
        let abruptReason = server.log.waitForClose(ofClientPort: abrupt.localPort)?.reason ?? "none"
        XCTAssertTrue(["truncated_frame", "reset"].contains(abruptReason), abruptReason)
        try next.echoFrame(Array("still fine".utf8))
    }

    func testMidFrameDisconnectAndResetDoNotDisturbConcurrentClient() throws {
        let server = try startEchoServer()
        let steady = try server.connect()
        try steady.echoFrame(Array("steady 1".utf8))

        let truncating = try server.connect()
        try truncating.echoFrame(Array("whole".utf8))
        try truncating.send(TestFrame.header(100) + TestFrame.payload(count: 40, seed: 1))
        try steady.echoFrame(Array("steady 2".utf8))
        truncating.shutdownWrite()
        _ = try truncating.receiveToEnd()  // unread bytes at close would make it a reset
        truncating.close()

        let resetting = try server.connect()
        try resetting.echoFrame(Array("about to reset".utf8))
        try resetting.send(TestFrame.header(100))
        try steady.echoFrame(Array("steady 3".utf8))
        resetting.closeWithReset()

        try steady.echoFrame(TestFrame.payload(count: 10_000, seed: 5))
        let truncated = try XCTUnwrap(server.log.waitForClose(ofClientPort: truncating.localPort))
        XCTAssertEqual(truncated.reason, "truncated_frame")
        XCTAssertEqual(truncated.integer("frames"), 1)
        let reset = try XCTUnwrap(server.log.waitForClose(ofClientPort: resetting.localPort))
        XCTAssertEqual(reset.reason, "reset")
        XCTAssertEqual(reset.string("errno"), "ECONNRESET")
        try steady.echoFrame(Array("steady 4".utf8))
        XCTAssertNil(
            server.log.entries(event: "connection_closed").first { $0.isPeer(port: steady.localPort) },
            "the steady client was closed")
    }

    func testClientThatSendsLargePayloadAndClosesWithoutReadingLeavesServerServing() throws {
        let server = try startEchoServer(["--mode", "raw"])
        let steady = try server.connect()
        try steady.echoRaw(Array("before\n".utf8))
        var stream = TestByteStream(seed: 21)
        let payload = stream.next(4 << 20)
        var ports: [UInt16] = []
        for _ in 0..<5 {
            let rude = try server.connect()
            // Pushes what the buffers take in a moment, then closes with
            // echoes unread: the server's sends then fail with EPIPE/ECONNRESET.
            rude.setSendTimeout(ms: 200)
            _ = rude.sendReporting(payload)
            ports.append(rude.localPort)
            rude.close()
        }
        for port in ports {
            let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: port))
            XCTAssertTrue(["reset", "peer_closed"].contains(closed.reason ?? ""), "\(closed)")
        }
        XCTAssertTrue(server.process.isRunning, "the server died: \(server.process.stderr)")
        try steady.echoRaw(Array("after\n".utf8))
        try server.connect().echoRaw(Array("new client\n".utf8))
    }

    func testOutOfDescriptorsPausesAcceptingWithoutSpinningAndRecovers() throws {
        let server = try startEchoServer(
            ["--mode", "raw", "--workers", "1"], launcher: ["/usr/bin/prlimit", "--nofile=64", "--"])
        let keeper = try server.connect()
        try keeper.echoRaw(Array("connected before the flood\n".utf8))

        var flood: [TestSocket] = []
        for _ in 0..<100 { flood.append(try server.connect()) }
        let paused = try XCTUnwrap(server.log.waitForEntry(event: "accept_paused"), "no accept_paused logged")
        XCTAssertTrue(["EMFILE", "ENFILE"].contains(paused.string("errno") ?? ""), "\(paused)")

        // A behaviour bound, not a benchmark: with connections still
        // pending and no descriptors, the server must not busy-loop.
        let ticksBefore = try XCTUnwrap(server.stats.cpuTicks)
        let start = Date()
        usleep(1_500_000)  // the measurement window, not a wait for the server
        let ticks = try XCTUnwrap(server.stats.cpuTicks) - ticksBefore
        let seconds = Date().timeIntervalSince(start)
        let share = Double(ticks) / (Double(ProcessStats.ticksPerSecond) * seconds)
        XCTAssertLessThan(share, 0.5, "server used \(Int(share * 100))% of a core while out of descriptors")

        try keeper.echoRaw(Array("still served during the flood\n".utf8))

        for socket in flood { socket.close() }
        flood.removeAll()
        // Once the flood's descriptors are released, new clients are served.
        var served = false
        var lastError = ""
        waitUntil(timeout: 20) {
            do {
                let late = try server.connect()
                late.setReceiveTimeout(ms: 2000)
                try late.echoRaw(Array("after the flood\n".utf8))
                served = true
            } catch {
                lastError = "\(error)"
            }
            return served
        }
        XCTAssertTrue(served, "no new client served after the flood: \(lastError)")
        try keeper.echoRaw(Array("and the first one too\n".utf8))
        XCTAssertTrue(server.process.isRunning)
    }
}

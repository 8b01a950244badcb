import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Signals: drain on SIGINT/SIGTERM, exit at once on a second signal,
/// reopen the log on SIGHUP (SPEC §6).
final class ShutdownTests: XCTestCase {
    func testSigtermDeliversInFlightEchoesAndExitsZero() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let client = try server.connect()
        try client.echoFrame(Array("accepted".utf8))
        let frames = (0..<200).map { TestFrame.encode(TestFrame.payload(count: 100, seed: $0)) }
        try client.send(frames.flatMap { $0 })
        server.process.sendSignal(SIGTERM)
        for (index, frame) in frames.enumerated() {
            XCTAssertEqual(try client.receive(exactly: frame.count), frame, "frame \(index)")
        }
        XCTAssertEqual(try client.receiveToEnd(), [], "closed after the last echo")
        XCTAssertEqual(try server.process.waitForExit(timeout: 30), 0, server.process.stderr)

        let log = server.log
        XCTAssertEqual(log.entries(event: "server_stopping").first?.string("signal"), "SIGTERM")
        let stopped = try XCTUnwrap(log.entries(event: "server_stopped").first)
        XCTAssertEqual(stopped.integer("forced_closes"), 0)
        let closed = try XCTUnwrap(log.entries(event: "connection_closed").first { $0.isPeer(port: client.localPort) })
        XCTAssertEqual(closed.reason, "shutdown")
        XCTAssertEqual(closed.integer("frames"), 201)
    }

    func testSigintOnIdleServerExitsZero() throws {
        let server = try startEchoServer()
        try server.connect().echoRaw(Array("hi\n".utf8))
        server.process.sendSignal(SIGINT)
        XCTAssertEqual(try server.process.waitForExit(timeout: 30), 0, server.process.stderr)
        XCTAssertEqual(server.process.stderr, "")
        XCTAssertEqual(server.log.entries(event: "server_stopping").first?.string("signal"), "SIGINT")
        XCTAssertEqual(server.log.entries(event: "server_stopped").count, 1)
    }

    func testDrainTimeoutClosesClientThatDoesNotRead() throws {
        let server = try startEchoServer(["--mode", "raw", "--drain-timeout", "1"])
        let client = try server.connect()
        let sender = BackgroundSender(socket: client, total: 256 << 20, seed: 5)
        defer {
            client.shutdownBoth()
            sender.finish()
        }
        sender.waitUntilStalled()
        server.process.sendSignal(SIGTERM)
        XCTAssertEqual(try server.process.waitForExit(timeout: 30), 0, server.process.stderr)
        let stopped = try XCTUnwrap(server.log.entries(event: "server_stopped").first)
        XCTAssertEqual(stopped.integer("forced_closes"), 1, "\(stopped)")
        XCTAssertEqual(
            server.log.entries(event: "connection_closed").first { $0.isPeer(port: client.localPort) }?.reason,
            "shutdown")
    }

    func testSecondSignalDuringDrainExitsAtOnce() throws {
        let server = try startEchoServer(["--mode", "raw", "--drain-timeout", "30"])
        let client = try server.connect()
        let sender = BackgroundSender(socket: client, total: 256 << 20, seed: 8)
        defer {
            client.shutdownBoth()
            sender.finish()
        }
        // The client reads nothing, so echoes stay pending and the drain lasts.
        sender.waitUntilStalled()
        server.process.sendSignal(SIGTERM)
        XCTAssertNotNil(server.log.waitForEntry(event: "server_stopping"), "first signal not handled")
        XCTAssertTrue(server.process.isRunning, "the drain should still be waiting for the client")
        server.process.sendSignal(SIGINT)
        let code = try server.process.waitForExit(timeout: 10)  // well under the 30 s drain
        XCTAssertEqual(code, 130, "128 + SIGINT")
        XCTAssertEqual(
            server.process.stderr.split(separator: "\n").count, 1, "one stderr line: \(server.process.stderr)")
    }

    func testSighupReopensLogFile() throws {
        let server = try startEchoServer()
        let logFile = server.log.file
        XCTAssertNotNil(server.log.waitForEntry(event: "server_started"))
        let rotated = logFile.deletingLastPathComponent().appendingPathComponent("trustctl.log.1")
        try FileManager.default.moveItem(at: logFile, to: rotated)

        server.process.sendSignal(SIGHUP)
        let reopened = server.log.waitForEntry(event: "log_reopened")
        XCTAssertNotNil(reopened, "no log_reopened line in a new trustctl.log")
        let client = try server.connect()
        try client.echoRaw(Array("logged in the new file\n".utf8))
        client.close()
        XCTAssertNotNil(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(try server.stop(), 0)

        let old = ServerLog(file: rotated)
        XCTAssertEqual(old.entries(event: "server_started").count, 1)
        XCTAssertEqual(old.entries(event: "server_stopped").count, 0, "old file still written after SIGHUP")
        XCTAssertEqual(server.log.entries(event: "server_stopped").count, 1)
        XCTAssertEqual(server.log.entries(event: "server_started").count, 0)
    }
}

import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Bounds: clients, descriptors, memory (SPEC §6).
final class LimitsTests: XCTestCase {
    func testMaxClientsRefusesThirdConnectionAndKeepsFirstTwo() throws {
        let server = try startEchoServer(["--max-clients", "2"])
        let first = try server.connect()
        let second = try server.connect()
        // Both accepted (an echo means the server holds them).
        try first.echoRaw(Array("one\n".utf8))
        try second.echoRaw(Array("two\n".utf8))

        let third = try server.connect()
        let result = third.receiveOnce()
        XCTAssertTrue(result == 0 || result == -Int(ECONNRESET), "refused connection closed at once, got \(result)")
        let refused = try XCTUnwrap(
            server.log.waitForEntry { $0.event == "connection_refused" && $0.isPeer(port: third.localPort) })
        XCTAssertEqual(refused.reason, "max_clients")
        XCTAssertNotNil(refused.requestID, "connection events carry request_id: \(refused)")

        try first.echoRaw(Array("one again\n".utf8))
        try second.echoFrame(Array("two again".utf8))
        // A slot frees up when a client leaves.
        first.close()
        XCTAssertNotNil(server.log.waitForClose(ofClientPort: first.localPort))
        try server.connect().echoRaw(Array("three, now room\n".utf8))
    }

    func testHundredSequentialClientsTenMessagesEachWithStableDescriptorCount() throws {
        let server = try startEchoServer()
        let idleCount = try XCTUnwrap(server.stats.settledDescriptorCount())
        var failures: [String] = []
        for clientIndex in 0..<100 {
            do {
                let client = try server.connect()
                for message in 0..<10 {
                    if clientIndex % 2 == 0 {
                        let line = Array("client \(clientIndex) message \(message)\n".utf8)
                        try client.send(line)
                        if try client.receive(exactly: line.count) != line { failures.append("\(clientIndex)") }
                    } else {
                        let frame = TestFrame.encode(TestFrame.payload(count: 64 + message, seed: clientIndex))
                        try client.send(frame)
                        if try client.receive(exactly: frame.count) != frame { failures.append("\(clientIndex)") }
                    }
                }
                client.close()
            } catch {
                failures.append("client \(clientIndex): \(error)")
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(server.stats.waitForDescriptorCount(idleCount), idleCount, "descriptors leaked")
        var closedLines = 0
        waitUntil {
            closedLines = server.log.entries(event: "connection_closed").count
            return closedLines == 100
        }
        XCTAssertEqual(closedLines, 100, "one connection_closed per client")
    }

    func testDescriptorCountStableAfterThousandConnectCloseCycles() throws {
        let server = try startEchoServer()
        let idleCount = try XCTUnwrap(server.stats.settledDescriptorCount())
        for cycle in 0..<1000 {
            let client = try server.connect()
            switch cycle % 4 {
            case 0: client.close()
            case 1: client.closeWithReset()
            case 2:
                try client.send([0, 0])  // half a header in auto mode: truncated frame
                client.close()
            default:
                try client.echoRaw([UInt8(ascii: "x")])
                client.close()
            }
        }
        XCTAssertEqual(server.stats.waitForDescriptorCount(idleCount, timeout: 20), idleCount, "descriptors leaked")
        XCTAssertTrue(server.process.isRunning)
    }

    func testSlowReaderKeepsServerMemoryBounded() throws {
        let server = try startEchoServer(["--mode", "raw"])
        let baseline = try XCTUnwrap(server.stats.residentKiB)
        let client = try server.connect()
        let total = 64 << 20
        let sender = BackgroundSender(socket: client, total: total, seed: 11)
        defer {
            client.shutdownBoth()
            sender.finish()
        }
        // The client reads nothing until the server has stopped taking its bytes.
        let sentWhileNotReading = sender.waitUntilStalled(quiet: 0.5, timeout: 30)
        XCTAssertLessThan(sentWhileNotReading, total, "the server must stop reading a client that does not read")
        let grown = try XCTUnwrap(server.stats.residentKiB) - baseline
        XCTAssertLessThan(grown, 16 * 1024, "server RSS grew by \(grown) KiB with a non-reading client")

        // Now read everything back and check it.
        var expected = TestByteStream(seed: 11)
        var received = 0
        var mismatchAt: Int?
        while received < total {
            let chunk = try client.receive(exactly: min(256 * 1024, total - received))
            if mismatchAt == nil && chunk != expected.next(chunk.count) { mismatchAt = received }
            received += chunk.count
        }
        XCTAssertNil(mismatchAt, "echo differs in the chunk at \(mismatchAt ?? 0)")
        XCTAssertEqual(received, total)
        XCTAssertNil(sender.error)
    }
}

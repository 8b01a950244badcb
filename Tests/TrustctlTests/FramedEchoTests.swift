import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Framed mode: 4-byte big-endian length + payload, echoed byte for byte
/// whatever the TCP segmentation (SPEC §6).
final class FramedEchoTests: XCTestCase {
    func testFramedEcho() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let client = try server.connect()
        try client.echoFrame(Array("one framed message".utf8))
        try client.echoFrame(TestFrame.payload(count: 5000, seed: 3))
    }

    func testTwoFramesInOneWriteGiveTwoEchoes() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let client = try server.connect()
        let first = TestFrame.encode(Array("first".utf8))
        let second = TestFrame.encode(TestFrame.payload(count: 300, seed: 9))
        try client.send(first + second)
        XCTAssertEqual(try client.receive(exactly: first.count), first)
        XCTAssertEqual(try client.receive(exactly: second.count), second)
        client.shutdownWrite()
        XCTAssertEqual(try client.receiveToEnd(), [])
        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(closed.integer("frames"), 2)
        XCTAssertEqual(closed.reason, "peer_closed")
    }

    func testFramesSplitIntoOneByteWrites() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let client = try server.connect()
        let frames = [TestFrame.encode(Array("split".utf8)), TestFrame.encode([]), TestFrame.encode([0, 1, 2])]
        let bytes = frames.flatMap { $0 }
        for byte in bytes { try client.send([byte]) }
        XCTAssertEqual(try client.receive(exactly: bytes.count), bytes)
        try client.echoFrame(Array("and whole again".utf8))
    }

    func testHeaderSplitTwoPlusTwo() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let client = try server.connect()
        let frame = TestFrame.encode(TestFrame.payload(count: 260, seed: 1))  // header 00 00 01 04
        try client.send(Array(frame[0..<2]))
        // Half a header is not yet known to be valid: nothing of it comes back.
        client.setReceiveTimeout(ms: 200)
        XCTAssertEqual(client.receiveOnce(), -Int(EAGAIN), "half a header must not be echoed")
        client.setReceiveTimeout(ms: TestSocket.defaultTimeoutMs)
        try client.send(Array(frame[2..<4]))
        try client.send(Array(frame[4...]))
        XCTAssertEqual(try client.receive(exactly: frame.count), frame)
    }

    func testZeroLengthFrame() throws {
        let server = try startEchoServer(["--mode", "framed"])
        let client = try server.connect()
        try client.echoFrame([])
        try client.echoFrame(Array("after empty".utf8))
        try client.echoFrame([])
    }

    func testFrameOfExactlyMaxFrameIsEchoed() throws {
        let server = try startEchoServer(["--mode", "framed", "--max-frame", "1000"])
        let client = try server.connect()
        try client.echoFrame(TestFrame.payload(count: 1000, seed: 4))
        try client.echoFrame(TestFrame.payload(count: 999, seed: 5))
    }

    func testFrameOneByteOverMaxFrameClosesWithoutEcho() throws {
        let server = try startEchoServer(["--mode", "framed", "--max-frame", "1000"])
        let client = try server.connect()
        try client.echoFrame(Array("valid first".utf8))
        try client.send(TestFrame.encode(TestFrame.payload(count: 1001, seed: 6)))
        // Nothing of the rejected frame, then the end of the connection.
        let after = client.receiveReporting(upTo: 2000)
        XCTAssertEqual(after.bytes, [], "no byte of an oversize frame may be echoed")
        XCTAssertTrue(after.result == 0 || after.result == -Int(ECONNRESET), "closed, got \(after.result)")

        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(closed.reason, "frame_too_large")
        XCTAssertEqual(closed.integer("declared_size"), 1001, "declared_size as a JSON number: \(closed)")
        XCTAssertEqual(closed.integer("frames"), 1)
        try server.connect().echoFrame(TestFrame.payload(count: 1000, seed: 8))
    }

    func testOversizeFrameClosesConnectionAndServerGoesOn() throws {
        let server = try startEchoServer(["--mode", "framed"])  // default --max-frame 65536
        let client = try server.connect()
        try client.send(TestFrame.header(0x7FFF_FFFF) + Array("junk".utf8))
        let after = client.receiveReporting(upTo: 100)
        XCTAssertEqual(after.bytes, [])
        XCTAssertTrue(after.result == 0 || after.result == -Int(ECONNRESET), "closed, got \(after.result)")
        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(closed.reason, "frame_too_large")
        XCTAssertEqual(closed.integer("declared_size"), 0x7FFF_FFFF)
        XCTAssertTrue(server.process.isRunning)
        try server.connect().echoFrame(TestFrame.payload(count: 65536, seed: 2))
    }
}

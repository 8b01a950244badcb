import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Auto mode: the first byte of each connection decides (SPEC §6).
final class AutoModeTests: XCTestCase {
    func testFirstByteZeroSelectsFramed() throws {
        let server = try startEchoServer(["--max-frame", "1000"])
        XCTAssertEqual(server.ready.mode, "auto")
        let client = try server.connect()
        try client.echoFrame(Array("framed by its first byte".utf8))
        // Only framing rejects this header; raw would echo it.
        try client.send(TestFrame.header(5000) + [1, 2, 3])
        let after = client.receiveReporting(upTo: 100)
        XCTAssertEqual(after.bytes, [])
        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(closed.reason, "frame_too_large")
    }

    func testOtherFirstByteSelectsRaw() throws {
        let server = try startEchoServer(["--max-frame", "1000"])
        let client = try server.connect()
        try client.echoRaw(Array("hello from nc\n".utf8))
        // Once raw, a later 0x00 is just a byte, and no header is checked.
        try client.echoRaw(TestFrame.header(5000) + [1, 2, 3])
        client.shutdownWrite()
        XCTAssertEqual(try client.receiveToEnd(), [])
        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(closed.reason, "peer_closed")
        XCTAssertEqual(closed.integer("frames"), 0)
    }

    func testRawAndFramedClientsShareOneServer() throws {
        let server = try startEchoServer()
        let text = try server.connect()
        let framed = try server.connect()
        try text.echoRaw(Array("line one\n".utf8))
        try framed.echoFrame(Array("frame one".utf8))
        try text.echoRaw(Array("line two\n".utf8))
        try framed.echoFrame([])
    }
}

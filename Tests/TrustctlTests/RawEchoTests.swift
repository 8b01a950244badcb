import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Raw mode (RFC 862): bytes back unmodified, binary safe (SPEC §6).
final class RawEchoTests: XCTestCase {
    func testRawEchoReturnsBytesUnchanged() throws {
        let server = try startEchoServer(["--mode", "raw"])
        let client = try server.connect()
        let everyByte = (0...255).map { UInt8($0) }
        try client.echoRaw(everyByte)
        try client.echoRaw(Array("hello, echo\n".utf8))
        try client.echoRaw([0, 0, 0, 0xFF, 0xFF])  // looks like an oversize header: raw does not care
    }

    func testHalfCloseReturnsEverythingThenEndOfStream() throws {
        let server = try startEchoServer(["--mode", "raw"])
        let client = try server.connect()
        var stream = TestByteStream(seed: 7)
        let data = stream.next(300 * 1024)
        try client.send(data)
        client.shutdownWrite()
        let back = try client.receiveToEnd()
        XCTAssertEqual(back.count, data.count)
        XCTAssertTrue(back == data, "half-closed stream came back different")
        let closed = try XCTUnwrap(server.log.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(closed.reason, "peer_closed")
        XCTAssertEqual(closed.integer("bytes_in"), data.count)
        XCTAssertEqual(closed.integer("bytes_out"), data.count)
    }

    func testTenConcurrentBinaryStreamsWithLeadingZeroComeBackIdentical() throws {
        let server = try startEchoServer(["--mode", "raw"])
        let clientCount = 10
        let size = 256 * 1024
        let failures = Mutex<[String]>([])
        let finished = Atomic<Int>(0)
        let port = server.port
        for index in 0..<clientCount {
            Thread.detachNewThread {
                defer { finished.add(1, ordering: .releasing) }
                do {
                    let client = try TestSocket(port: port)
                    var stream = TestByteStream(seed: UInt64(index + 1))
                    var data = stream.next(size)
                    data[0] = 0  // would mean "framed" in auto mode
                    data[1] = 0
                    let sendData = data
                    // Sending and reading at once: a client that only sends
                    // would (rightly) be stopped by backpressure.
                    let sender = Thread { _ = try? client.send(sendData) }
                    sender.start()
                    let back = try client.receive(exactly: size)
                    if back != data { failures.withLock { $0.append("client \(index): bytes differ") } }
                } catch {
                    failures.withLock { $0.append("client \(index): \(error)") }
                }
            }
        }
        XCTAssertTrue(waitUntil(timeout: 60) { finished.load(ordering: .acquiring) == clientCount })
        XCTAssertEqual(failures.withLock { $0 }, [])
    }
}

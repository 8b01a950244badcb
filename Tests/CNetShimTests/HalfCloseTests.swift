import CNetShim
import Glibc
import XCTest

/// cnet_shutdown_write and cnet_send (one send call).
final class HalfCloseTests: XCTestCase {
    /// After a half-close the peer reads end of stream, can still answer,
    /// and this side can still read that answer; its own sends are EPIPE.
    func testShutdownWriteEndsTheStreamOneWayOnly() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        XCTAssertEqual(ShimIO.sendAll(pair.client, Array("request".utf8)).result, 7)
        XCTAssertEqual(cnet_shutdown_write(pair.client), 0)

        XCTAssertEqual(ShimIO.recvAll(pair.server, count: 7).bytes, Array("request".utf8))
        XCTAssertEqual(ShimIO.recvAll(pair.server, count: 1).result, 0, "end of stream after the half-close")
        XCTAssertEqual(ShimIO.sendAll(pair.server, Array("reply".utf8)).result, 5, "the other way still open")
        XCTAssertEqual(ShimIO.recvAll(pair.client, count: 5).bytes, Array("reply".utf8))
        XCTAssertEqual(ShimIO.sendAll(pair.client, [1]).result, -Int(EPIPE))
    }

    func testShutdownWriteErrors() throws {
        XCTAssertEqual(cnet_shutdown_write(-1), -EBADF)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { Glibc.close(fd) }
        XCTAssertEqual(cnet_shutdown_write(fd), -ENOTCONN)
    }

    /// One send: what fits moves, then -EAGAIN on a full non-blocking
    /// socket; -EPIPE (never SIGPIPE) once the peer is gone.
    func testSendMovesWhatFitsThenEAGAINThenEPIPE() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_nonblocking(pair.client, 1), 0)
        XCTAssertEqual(cnet_set_send_buffer(pair.client, 4096), 0)
        let payload = ShimIO.pattern(count: 1 << 20)
        // Safe: the pointer lives only for each call and payload.count is its size.
        let first = payload.withUnsafeBytes { cnet_send(pair.client, $0.baseAddress, $0.count) }
        XCTAssertGreaterThan(first, 0)
        XCTAssertLessThan(first, payload.count)
        var again = 0
        for _ in 0..<64 {
            again = payload.withUnsafeBytes { cnet_send(pair.client, $0.baseAddress, $0.count) }
            if again < 0 { break }
        }
        XCTAssertEqual(again, -Int(EAGAIN))

        pair.closeServer()
        let broken = payload.withUnsafeBytes { cnet_send(pair.client, $0.baseAddress, 1) }
        XCTAssertEqual(broken, -Int(EPIPE))
        XCTAssertEqual(cnet_send(-1, nil, 0), -Int(EBADF))
    }
}

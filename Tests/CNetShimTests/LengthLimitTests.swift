import CNetShim
import Glibc
import XCTest

/// Lengths above SSIZE_MAX cannot be reported in an ssize_t result: every
/// IO call rejects them with -EINVAL before touching the socket.
final class LengthLimitTests: XCTestCase {
    /// size_t is imported as Int, so the C values above SSIZE_MAX are the
    /// negative Ints: -1 is SIZE_MAX, Int.min is SSIZE_MAX + 1.
    private let tooLong = [-1, Int.min]

    func testEveryIOCallRejectsLengthsAboveSSIZEMAX() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_nonblocking(pair.server, 1), 0)
        var buffer = [UInt8](repeating: 0, count: 16)
        for length in tooLong {
            var moved = 99
            // Safe: the calls reject the length before using the pointer;
            // the buffer is real and alive for each call anyway.
            buffer.withUnsafeMutableBytes { raw in
                let p = raw.baseAddress
                XCTAssertEqual(cnet_send(pair.client, p, length), -Int(EINVAL), "cnet_send")
                XCTAssertEqual(cnet_recv(pair.server, p, length), -Int(EINVAL), "cnet_recv")
                XCTAssertEqual(cnet_send_some(pair.client, p, length), -Int(EINVAL), "cnet_send_some")
                XCTAssertEqual(cnet_recv_some(pair.server, p, length), -Int(EINVAL), "cnet_recv_some")
                XCTAssertEqual(cnet_send_all(pair.client, p, length, &moved), -Int(EINVAL), "cnet_send_all")
                XCTAssertEqual(moved, 0, "send_all reports nothing moved")
                moved = 99
                XCTAssertEqual(cnet_recv_all(pair.server, p, length, &moved), -Int(EINVAL), "cnet_recv_all")
                XCTAssertEqual(moved, 0, "recv_all reports nothing moved")
            }
        }
        // Nothing was sent: the peer has nothing to read.
        XCTAssertEqual(ShimIO.recvSome(pair.server, capacity: 16).result, -Int(EAGAIN))
    }
}

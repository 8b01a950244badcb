import CNetShim
import Glibc
import XCTest

final class LingerResetTests: XCTestCase {
    /// SO_LINGER {on, 0}: close sends RST, and the peer's next receive
    /// fails with ECONNRESET instead of seeing an orderly end of stream.
    func testCloseAfterLingerResetMakesPeerRecvReturnECONNRESET() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_linger_reset(pair.client), 0)
        pair.closeClient()

        let (result, received, _) = ShimIO.recvAll(pair.server, count: 10)
        XCTAssertEqual(result, -Int(ECONNRESET), "got \(ShimFailure.errnoName(result))")
        XCTAssertEqual(received, 0)
    }

    /// Without the option the same close is an orderly FIN (the control case).
    func testPlainCloseGivesPeerEndOfStream() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        pair.closeClient()
        XCTAssertEqual(ShimIO.recvAll(pair.server, count: 10).result, 0)
    }
}

import CNetShim
import Glibc
import XCTest

/// Sends to a peer that is gone must fail with -EPIPE or -ECONNRESET. SIGPIPE
/// stays at its default action (terminate) during these tests: only
/// MSG_NOSIGNAL keeps the test process alive.
final class BrokenPipeTests: XCTestCase {
    private var previousSIGPIPE = sigaction()

    override func setUp() {
        super.setUp()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&action.sa_mask)
        XCTAssertEqual(sigaction(SIGPIPE, &action, &previousSIGPIPE), 0)
    }

    override func tearDown() {
        sigaction(SIGPIPE, &previousSIGPIPE, nil)
        super.tearDown()
    }

    func testSendAllToClosedSocketpairPeerReturnsEPIPEWithoutSIGPIPE() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        pair.closeServer()
        let (result, sent) = ShimIO.sendAll(pair.client, Array("nobody listens".utf8))
        XCTAssertEqual(result, -Int(EPIPE), "got \(ShimFailure.errnoName(result))")
        XCTAssertEqual(sent, 0)
    }

    /// Over TCP the first send after the peer's close may still succeed (it
    /// draws a reset); within a few sends the error must appear.
    func testSendAllToClosedTCPPeerReturnsEPIPEOrECONNRESETWithoutSIGPIPE() throws {
        let pair = try LoopbackPair.tcp()
        defer { pair.close() }
        pair.closeServer()
        // The client learns of the close (FIN) before writing.
        XCTAssertEqual(ShimIO.recvAll(pair.client, count: 1).result, 0)

        let chunk = ShimIO.pattern(count: 1024)
        var lastResult = 0
        for _ in 0..<100 {
            lastResult = ShimIO.sendAll(pair.client, chunk).result
            if lastResult < 0 { break }
        }
        XCTAssertTrue(
            lastResult == -Int(EPIPE) || lastResult == -Int(ECONNRESET),
            "got \(lastResult < 0 ? ShimFailure.errnoName(lastResult) : "\(lastResult) bytes")")
    }

    func testSendSomeToClosedPeerReturnsEPIPEWithoutSIGPIPE() throws {
        let pair = try LoopbackPair.unix()
        defer { pair.close() }
        XCTAssertEqual(cnet_set_nonblocking(pair.client, 1), 0)
        pair.closeServer()
        let result = ShimIO.sendSome(pair.client, [1, 2, 3])
        XCTAssertEqual(result, -Int(EPIPE), "got \(ShimFailure.errnoName(result))")
    }
}

import CNetShim
import Glibc
import XCTest

/// cnet_uring_prep_send: short completions against a peer that does not
/// read (the caller sends the rest), and a gone peer's EPIPE without SIGPIPE.
final class UringSendTests: XCTestCase {
    private var previousSIGPIPE = sigaction()

    /// SIGPIPE at its default action (terminate), so a send that raised it
    /// would end the test process.  (The prep asks for MSG_NOSIGNAL; recent
    /// kernels also add it to every io_uring send themselves.)
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

    /// A peer with a tiny receive buffer that does not read: a 1 MiB send
    /// completes with what fit (0 < res < len).  Then the peer reads, and
    /// sending the rest from where each completion stopped delivers every
    /// byte in order (the caller's job: one send in flight, resumed at res).
    func testSendToAPeerThatDoesNotReadCompletesShortAndTheRestFollows() throws {
        let pair = try tinyReceiveWindowPair()
        XCTAssertEqual(cnet_set_send_buffer(pair.server, 4096), 0)
        let ring = try UringRing()
        let payload = ShimIO.pattern(count: 1 << 20)
        // Safe: the kernel reads from it until each send's CQE; every send is
        // collected before the deferred deallocate runs.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: payload.count, alignment: 16)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: payload)

        try ring.prep(cnet_uring_prep_send(ring.handle, pair.server, buffer.baseAddress, buffer.count, 1), "send")
        let first = try XCTUnwrap(try ring.collect(1).first, "the first send did not complete")
        XCTAssertGreaterThan(first.result, 0, "\(first)")
        XCTAssertLessThan(Int(first.result), payload.count, "a peer that does not read cannot take 1 MiB")

        let client = pair.client
        let received = ResultBox<[UInt8]>()
        let reader = TestThread.start { received.set(ShimIO.recvAll(client, count: payload.count).bytes) }
        let base = try XCTUnwrap(buffer.baseAddress)
        var sent = Int(first.result)
        var sends = 1
        while sent < payload.count {
            let rest = base + sent
            try ring.prep(cnet_uring_prep_send(ring.handle, pair.server, rest, payload.count - sent, 2), "send rest")
            let completion = try XCTUnwrap(try ring.collect(1).first, "a send of the rest did not complete")
            XCTAssertGreaterThan(completion.result, 0, "\(completion)")
            guard completion.result > 0 else { break }
            sent += Int(completion.result)
            sends += 1
        }
        XCTAssertTrue(reader.join(), "the reader did not get every byte")
        XCTAssertEqual(sent, payload.count)
        XCTAssertTrue(received.value == payload, "bytes lost, doubled or reordered over \(sends) sends")
    }

    /// A TCP connection whose client end has a 4 KiB receive buffer from the
    /// start: set before connect, so the window it advertises is small from
    /// the handshake on (shrinking it later stalls the connection instead).
    private func tinyReceiveWindowPair() throws -> LoopbackPair {
        var port: UInt16 = 0
        let listener = try ShimFailure.check(cnet_tcp_listen_host("127.0.0.1", 0, 4, 0, &port), "listen")
        defer { _ = cnet_close(listener) }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if client < 0 { throw ShimFailure(operation: "socket", code: Int(-errno)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        // Safe: connect reads exactly sizeof(sockaddr_in) bytes of `address`.
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                cnet_set_recv_buffer(client, 4096) == 0
                    && connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if !connected {
            let code = -Int(errno)
            _ = cnet_close(client)
            throw ShimFailure(operation: "connect", code: code)
        }
        let server = cnet_accept(listener, nil, nil)
        if server < 0 {
            _ = cnet_close(client)
            throw ShimFailure(operation: "cnet_accept", code: Int(server))
        }
        let pair = LoopbackPair(client: client, server: server, port: port)
        try pair.applySafetyTimeouts()
        return pair
    }

    func testSendToAClosedPeerFailsWithEPIPEWithoutSIGPIPE() throws {
        let pair = try LoopbackPair.unix()
        pair.closeClient()
        let ring = try UringRing()
        let message = Array("nobody listens".utf8)
        // Safe: the pointer lives until the collect below returns the send's CQE.
        let completion = try message.withUnsafeBytes { bytes in
            try ring.prep(cnet_uring_prep_send(ring.handle, pair.server, bytes.baseAddress, bytes.count, 3), "send")
            return try XCTUnwrap(try ring.collect(1).first)
        }
        XCTAssertEqual(completion.result, -EPIPE, "\(completion)")
    }
}

import CNetShim
import Glibc
import XCTest

/// The UDP part of the shim: cnet_udp_bind, cnet_udp_recv_batch,
/// cnet_udp_send_batch, cnet_udp_send_to, pktinfo on a wildcard bind.
final class UDPTests: XCTestCase {
    // MARK: bind

    func testBindOnPortZeroReportsTheRealPort() throws {
        var port: UInt16 = 0
        let fd = try ShimFailure.check(cnet_udp_bind_host("127.0.0.1", 0, 0, &port), "bind")
        defer { _ = cnet_close(fd) }
        XCTAssertNotEqual(port, 0)
        XCTAssertEqual(cnet_local_port(fd), Int32(port))
        XCTAssertEqual(try intOption(fd, SOL_SOCKET, SO_TYPE), Int32(SOCK_DGRAM.rawValue))
        XCTAssertEqual(try intOption(fd, Int32(IPPROTO_IP), IP_PKTINFO), 1)
        XCTAssertEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
    }

    func testReuseportFlagLetsTwoSocketsShareAPort() throws {
        var port: UInt16 = 0
        let first = try ShimFailure.check(
            cnet_udp_bind_host("127.0.0.1", 0, CNET_UDP_REUSEPORT, &port), "bind first")
        defer { _ = cnet_close(first) }
        XCTAssertEqual(try intOption(first, SOL_SOCKET, SO_REUSEPORT), 1)
        let second = cnet_udp_bind_host("127.0.0.1", port, CNET_UDP_REUSEPORT, nil)
        XCTAssertGreaterThanOrEqual(second, 0, ShimFailure.errnoName(Int(second)))
        if second >= 0 { _ = cnet_close(second) }
        // Without the flag the port is taken.
        XCTAssertEqual(cnet_udp_bind_host("127.0.0.1", port, 0, nil), -EADDRINUSE)
    }

    func testIPv6BindIsDualStackAndHasPktinfo() throws {
        let fd = try ShimFailure.check(cnet_udp_bind_host("::", 0, 0, nil), "bind ::")
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(try intOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY), 0)
        XCTAssertEqual(try intOption(fd, Int32(IPPROTO_IPV6), IPV6_RECVPKTINFO), 1)
    }

    func testBadArgumentsAreRejected() throws {
        XCTAssertEqual(cnet_udp_bind(nil, 0, 0, nil), -EINVAL)
        let slots = DatagramSlots(count: 1, capacity: 16)
        XCTAssertEqual(slots.receive(on: -1, count: 0), -EINVAL)
        XCTAssertEqual(slots.receive(on: -1, count: Int(CNET_UDP_BATCH_MAX) + 1), -EINVAL)
        XCTAssertEqual(slots.receive(on: -1, count: 1), -EBADF)
        XCTAssertEqual(cnet_udp_send_batch(-1, nil, 1), -EINVAL)
    }

    // MARK: batch receive and send

    /// Eight datagrams sent at once come out of one recv_batch, each with
    /// its own payload and source; send_batch echoes them all back.
    func testBatchReceiveAndSendEchoEveryDatagram() throws {
        var port: UInt16 = 0
        let server = try ShimFailure.check(cnet_udp_bind_host("127.0.0.1", 0, CNET_NONBLOCK, &port), "bind")
        defer { _ = cnet_close(server) }
        let client = try UDPClient(bindHost: "127.0.0.1")
        defer { client.close() }
        let target = try ResolvedAddress.resolve("127.0.0.1", port: port)
        for i in 0..<8 { try client.send([UInt8](repeating: UInt8(i), count: i + 1), to: target) }

        let slots = DatagramSlots(count: 16, capacity: 2048)
        let received = try slots.receiveAtLeast(8, on: server)
        XCTAssertEqual(received, 8)
        for i in 0..<8 {
            XCTAssertEqual(slots.payload(i), [UInt8](repeating: UInt8(i), count: i + 1))
            XCTAssertEqual(slots.peerPort(i), client.port)
            XCTAssertEqual(slots.flags(i) & CNET_UDP_TRUNCATED, 0)
        }
        XCTAssertEqual(slots.send(on: server, count: 8), 8)
        for i in 0..<8 {
            let (payload, _) = try client.receive()
            XCTAssertEqual(payload, [UInt8](repeating: UInt8(i), count: i + 1))
        }
    }

    func testZeroLengthAndLargestDatagramsPassThrough() throws {
        var port: UInt16 = 0
        let server = try ShimFailure.check(cnet_udp_bind_host("127.0.0.1", 0, CNET_NONBLOCK, &port), "bind")
        defer { _ = cnet_close(server) }
        let client = try UDPClient(bindHost: "127.0.0.1")
        defer { client.close() }
        let target = try ResolvedAddress.resolve("127.0.0.1", port: port)
        let big = (0..<Int(CNET_UDP_MAX_PAYLOAD)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try client.send([], to: target)
        try client.send(big, to: target)
        let slots = DatagramSlots(count: 2, capacity: 65536)
        XCTAssertEqual(try slots.receiveAtLeast(2, on: server), 2)
        XCTAssertEqual(slots.payload(0), [])
        XCTAssertEqual(slots.payload(1), big)
        XCTAssertEqual(slots.send(on: server, count: 2), 2)
        XCTAssertEqual(try client.receive().payload, [])
        XCTAssertEqual(try client.receive().payload, big)
    }

    /// A datagram longer than its slot: cut to the slot, marked truncated,
    /// len its real size.
    func testDatagramLongerThanItsSlotIsMarkedTruncated() throws {
        var port: UInt16 = 0
        let server = try ShimFailure.check(cnet_udp_bind_host("127.0.0.1", 0, 0, &port), "bind")
        defer { _ = cnet_close(server) }
        let client = try UDPClient(bindHost: "127.0.0.1")
        defer { client.close() }
        try client.send([UInt8](repeating: 0x41, count: 100), to: try ResolvedAddress.resolve("127.0.0.1", port: port))
        let slots = DatagramSlots(count: 1, capacity: 10)
        XCTAssertEqual(try slots.receiveAtLeast(1, on: server), 1)
        XCTAssertEqual(slots.flags(0) & CNET_UDP_TRUNCATED, CNET_UDP_TRUNCATED)
        XCTAssertEqual(slots.length(0), 100)
    }

    func testEmptyQueueGivesEAGAIN() throws {
        let server = try ShimFailure.check(cnet_udp_bind_host("127.0.0.1", 0, 0, nil), "bind")
        defer { _ = cnet_close(server) }
        let slots = DatagramSlots(count: 4, capacity: 64)
        // The socket is blocking, yet the call must not block.
        XCTAssertEqual(slots.receive(on: server, count: 4), -EAGAIN)
    }

    // MARK: pktinfo

    /// A 0.0.0.0 bind receiving on 127.0.0.2 reports 127.0.0.2 as the
    /// destination, and the echo leaves from 127.0.0.2.
    func testWildcardBindAnswersFromTheAddressItWasSentTo() throws {
        try assertReplySource(bind: "0.0.0.0", clientBind: "127.0.0.1", sendTo: "127.0.0.2", expect: "127.0.0.2")
    }

    /// The same through a dual-stack "::" socket (IPv4 shows up v4-mapped).
    func testDualStackWildcardAnswersIPv4FromTheRightAddress() throws {
        try assertReplySource(bind: "::", clientBind: "127.0.0.1", sendTo: "127.0.0.2", expect: "127.0.0.2")
    }

    func testIPv6LoopbackEcho() throws {
        try assertReplySource(bind: "::", clientBind: "::1", sendTo: "::1", expect: "::1")
    }

    private func assertReplySource(
        bind: String, clientBind: String, sendTo: String, expect: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        var port: UInt16 = 0
        let server = try ShimFailure.check(cnet_udp_bind_host(bind, 0, CNET_NONBLOCK, &port), "bind \(bind)")
        defer { _ = cnet_close(server) }
        let client = try UDPClient(bindHost: clientBind)
        defer { client.close() }
        try client.send(Array("ping".utf8), to: try ResolvedAddress.resolve(sendTo, port: port))
        let slots = DatagramSlots(count: 4, capacity: 256)
        XCTAssertEqual(try slots.receiveAtLeast(1, on: server), 1, file: file, line: line)
        XCTAssertEqual(slots.flags(0) & CNET_UDP_HAS_LOCAL, CNET_UDP_HAS_LOCAL, file: file, line: line)
        XCTAssertTrue(slots.localText(0).contains(expect), "local was \(slots.localText(0))", file: file, line: line)
        XCTAssertEqual(slots.send(on: server, count: 1), 1, file: file, line: line)
        let (payload, source) = try client.receive()
        XCTAssertEqual(payload, Array("ping".utf8), file: file, line: line)
        let expected = expect.contains(":") ? "[\(expect)]:\(port)" : "\(expect):\(port)"
        XCTAssertEqual(source, expected, file: file, line: line)
    }

    private func intOption(_ fd: Int32, _ level: Int32, _ name: Int32) throws -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, level, name, &value, &length) < 0 {
            throw ShimFailure(operation: "getsockopt", code: Int(-errno))
        }
        return value
    }
}

/// Caller-owned receive slots: one buffer of count * capacity bytes and
/// the cnet_udp_dgram array pointing into it.
final class DatagramSlots {
    var slots: [cnet_udp_dgram]
    let buffer: UnsafeMutableRawPointer
    let capacity: Int

    init(count: Int, capacity: Int) {
        self.capacity = capacity
        buffer = UnsafeMutableRawPointer.allocate(byteCount: count * capacity, alignment: 16)
        let base = buffer
        slots = (0..<count).map { i in
            var d = cnet_udp_dgram()
            d.buf = base + i * capacity
            d.cap = capacity
            return d
        }
    }

    deinit { buffer.deallocate() }

    func receive(on fd: Int32, count: Int) -> Int32 {
        slots.withUnsafeMutableBufferPointer { cnet_udp_recv_batch(fd, $0.baseAddress, Int32(count)) }
    }

    func send(on fd: Int32, count: Int) -> Int32 {
        slots.withUnsafeBufferPointer { cnet_udp_send_batch(fd, $0.baseAddress, Int32(count)) }
    }

    /// Polls until at least `wanted` datagrams are queued (up to 5 s), then
    /// receives them in one batch.
    func receiveAtLeast(_ wanted: Int, on fd: Int32) throws -> Int {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            // Loopback delivers within the sender's sendto, so once the
            // socket is readable every datagram already sent is queued.
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
            let n = receive(on: fd, count: slots.count)
            if n > 0 { return Int(n) }
            if n != -EAGAIN { throw ShimFailure(operation: "cnet_udp_recv_batch", code: Int(n)) }
        }
        throw ShimFailure(operation: "wait for datagrams", code: Int(-ETIMEDOUT))
    }

    func payload(_ i: Int) -> [UInt8] {
        let n = min(slots[i].len, slots[i].cap)
        return Array(UnsafeRawBufferPointer(start: slots[i].buf, count: n))
    }
    func length(_ i: Int) -> Int { slots[i].len }
    func flags(_ i: Int) -> Int32 { slots[i].flags }

    func peerPort(_ i: Int) -> UInt16 {
        var address = ResolvedAddress()
        address.storage = slots[i].peer
        address.length = slots[i].peer_len
        let text = address.formatted().text
        return UInt16(text.split(separator: ":").last ?? "") ?? 0
    }

    func localText(_ i: Int) -> String {
        var address = ResolvedAddress()
        address.storage = slots[i].local
        address.length = slots[i].local_len
        return address.formatted().text
    }
}

/// A plain blocking UDP client socket with a 5 s receive timeout.
final class UDPClient {
    let fd: Int32
    let port: UInt16

    init(bindHost: String) throws {
        var bound: UInt16 = 0
        fd = try ShimFailure.check(cnet_udp_bind_host(bindHost, 0, 0, &bound), "client bind \(bindHost)")
        port = bound
        _ = cnet_set_recv_timeout(fd, 5000)
    }

    func close() { _ = cnet_close(fd) }

    func send(_ bytes: [UInt8], to target: ResolvedAddress) throws {
        let n = target.withSockaddr { address, length in
            bytes.withUnsafeBytes { cnet_udp_send_to(fd, $0.baseAddress, $0.count, address, length) }
        }
        if n < 0 { throw ShimFailure(operation: "cnet_udp_send_to", code: n) }
    }

    /// One datagram and its source address, formatted.
    func receive() throws -> (payload: [UInt8], source: String) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var from = ResolvedAddress()
        from.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        // Safe: the storage outlives the call and its real size is passed.
        let n = withUnsafeMutablePointer(to: &from.storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                buffer.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, address, &from.length) }
            }
        }
        if n < 0 { throw ShimFailure(operation: "recvfrom", code: Int(-errno)) }
        var text = from.formatted().text
        if text.hasPrefix("[::ffff:") { text = String(text.dropFirst(8)).replacingOccurrences(of: "]", with: "") }
        return (Array(buffer[..<n]), text)
    }
}

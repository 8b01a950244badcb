import CNetShim
import Glibc
import XCTest

/// One setsockopt/fcntl helper each: the option really changes (read back
/// with getsockopt/fcntl), both ways, and a bad descriptor is -errno.
final class SocketOptionTests: XCTestCase {
    private func intOption(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) < 0 ? -errno : value
    }

    private func tcpSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw ShimFailure(operation: "socket", code: Int(-errno)) }
        return fd
    }

    func testBooleanOptionsTurnOnAndOff() throws {
        let fd = try tcpSocket()
        defer { _ = cnet_close(fd) }
        let cases: [(String, (Int32, Int32) -> Int32, Int32, Int32)] = [
            ("SO_REUSEADDR", cnet_set_reuseaddr, SOL_SOCKET, SO_REUSEADDR),
            ("SO_REUSEPORT", cnet_set_reuseport, SOL_SOCKET, SO_REUSEPORT),
            ("TCP_NODELAY", cnet_set_nodelay, Int32(IPPROTO_TCP), TCP_NODELAY),
        ]
        for (name, set, level, option) in cases {
            XCTAssertEqual(set(fd, 1), 0, name)
            XCTAssertNotEqual(intOption(fd, level, option), 0, "\(name) on")
            XCTAssertEqual(set(fd, 0), 0, name)
            XCTAssertEqual(intOption(fd, level, option), 0, "\(name) off")
            XCTAssertEqual(set(-1, 1), -EBADF, "\(name) on a bad descriptor")
        }
    }

    func testCloseOnExecAndNonBlockingFlagsTurnOnAndOff() throws {
        let fd = try tcpSocket()
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(cnet_set_cloexec(fd, 0), 0)
        XCTAssertEqual(ShimIO.descriptorFlags(fd) & FD_CLOEXEC, 0)
        XCTAssertEqual(cnet_set_cloexec(fd, 1), 0)
        XCTAssertNotEqual(ShimIO.descriptorFlags(fd) & FD_CLOEXEC, 0)
        XCTAssertEqual(cnet_set_cloexec(-1, 1), -EBADF)

        XCTAssertEqual(cnet_set_nonblocking(fd, 1), 0)
        XCTAssertNotEqual(ShimIO.statusFlags(fd) & O_NONBLOCK, 0)
        XCTAssertEqual(cnet_set_nonblocking(fd, 0), 0)
        XCTAssertEqual(ShimIO.statusFlags(fd) & O_NONBLOCK, 0)
        XCTAssertEqual(cnet_set_nonblocking(-1, 1), -EBADF)
    }

    /// The kernel doubles the requested size (and has a floor), so the
    /// check is that the value moved and follows the request.
    func testBufferSizesFollowTheRequest() throws {
        let fd = try tcpSocket()
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(cnet_set_send_buffer(fd, 8192), 0)
        let smallSend = intOption(fd, SOL_SOCKET, SO_SNDBUF)
        XCTAssertEqual(cnet_set_send_buffer(fd, 65536), 0)
        XCTAssertGreaterThan(intOption(fd, SOL_SOCKET, SO_SNDBUF), smallSend)
        XCTAssertEqual(cnet_set_recv_buffer(fd, 8192), 0)
        let smallRecv = intOption(fd, SOL_SOCKET, SO_RCVBUF)
        XCTAssertEqual(cnet_set_recv_buffer(fd, 65536), 0)
        XCTAssertGreaterThan(intOption(fd, SOL_SOCKET, SO_RCVBUF), smallRecv)
        XCTAssertEqual(cnet_set_send_buffer(-1, 8192), -EBADF)
        XCTAssertEqual(cnet_set_recv_buffer(-1, 8192), -EBADF)
    }

    func testTimeoutsAreSetInMillisecondsAndNegativeIsEINVAL() throws {
        let fd = try tcpSocket()
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(cnet_set_recv_timeout(fd, 1500), 0)
        var value = timeval()
        var length = socklen_t(MemoryLayout<timeval>.size)
        XCTAssertEqual(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, &length), 0)
        XCTAssertEqual(value.tv_sec, 1)
        XCTAssertEqual(value.tv_usec / 1000, 500)
        XCTAssertEqual(cnet_set_send_timeout(fd, -1), -EINVAL)
        XCTAssertEqual(cnet_set_recv_timeout(fd, -1), -EINVAL)
    }

    /// SO_ERROR: 0 on a healthy socket, the refusal after a failed
    /// non-blocking connect (a positive errno), -errno on a bad descriptor.
    func testSocketErrorReportsThePendingError() throws {
        let fd = try tcpSocket()
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(cnet_socket_error(fd), 0)
        XCTAssertEqual(cnet_socket_error(-1), -EBADF)
        let notSocket = try ShimFailure.check(cnet_eventfd_create(), "eventfd")
        defer { _ = cnet_close(notSocket) }
        XCTAssertEqual(cnet_socket_error(notSocket), -ENOTSOCK)

        let refusing = try TestEndpoint.refusing("127.0.0.1")
        var address = refusing.address
        let started = withUnsafePointer(to: &address.addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cnet_connect_start($0, address.len) }
        }
        guard started >= 0 else {
            XCTAssertEqual(started, -ECONNREFUSED)
            return
        }
        defer { _ = cnet_close(started) }
        var entry = pollfd(fd: started, events: Int16(POLLOUT), revents: 0)
        XCTAssertEqual(poll(&entry, 1, LoopbackPair.safetyTimeoutMilliseconds), 1)
        XCTAssertEqual(cnet_socket_error(started), ECONNREFUSED)
        XCTAssertEqual(cnet_socket_error(started), 0, "reading SO_ERROR clears it")
    }

    func testLocalPortOfBadOrUnboundDescriptors() throws {
        XCTAssertEqual(cnet_local_port(-1), -EBADF)
        let fd = try tcpSocket()
        defer { _ = cnet_close(fd) }
        XCTAssertEqual(cnet_local_port(fd), 0, "not bound yet: port 0")
        let unix = try LoopbackPair.unix()
        defer { unix.close() }
        XCTAssertEqual(cnet_local_port(unix.client), -EAFNOSUPPORT)
    }

    func testCloseOfBadDescriptorIsEBADF() {
        XCTAssertEqual(cnet_close(-1), -EBADF)
    }
}

import CNetShim
import Foundation
import Synchronization
import TrustCore
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A misbehaving server for failure tests: blocking sockets, one thread per
/// connection running `behaviour`. Every socket has a 5 s receive timeout
/// and `stop()` shuts every socket down, so no thread outlives a test for
/// long and nothing hangs.
final class FakePeer: Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let connections = Mutex<[Int32]>([])
    private let stopped = Atomic<Bool>(false)
    private let threads = DispatchGroup()

    /// What a connection gets: the blocking, connected descriptor.
    typealias Behaviour = @Sendable (Int32) -> Void

    init(_ behaviour: @escaping Behaviour) throws {
        var port: UInt16 = 0
        let fd = cnet_tcp_listen_host("127.0.0.1", 0, 128, 0, &port)
        guard fd >= 0 else { throw FixtureError("fake peer: listen failed: \(Errno(rawValue: fd))") }
        self.port = port
        self.listenFD = fd
        threads.enter()
        let acceptor = Thread { [self] in
            defer { threads.leave() }
            // Bounded: ends when stop() shuts the listener down.
            while !stopped.load(ordering: .acquiring) {
                let client = cnet_accept(fd, nil, nil)
                if client < 0 {
                    if client == -EAGAIN || client == -EINTR || client == -ECONNABORTED { continue }
                    return
                }
                _ = cnet_set_nonblocking(client, 0)
                _ = cnet_set_recv_timeout(client, 5000)
                _ = cnet_set_send_timeout(client, 5000)
                connections.withLock { $0.append(client) }
                threads.enter()
                let worker = Thread { [self] in
                    defer { threads.leave() }
                    behaviour(client)
                }
                worker.start()
            }
        }
        acceptor.start()
    }

    /// Shuts every socket down (waking blocked threads), waits for the
    /// threads (bounded), closes the descriptors.
    func stop() {
        stopped.store(true, ordering: .releasing)
        _ = shutdown(listenFD, Int32(SHUT_RDWR))
        let fds = connections.withLock { $0 }
        for fd in fds { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        _ = threads.wait(timeout: .now() + 10)
        for fd in fds { _ = cnet_close(fd) }
        _ = cnet_close(listenFD)
    }

    // MARK: - Behaviours

    /// Echoes every chunk with its last byte changed.
    static let alteringEcho: Behaviour = { fd in
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { cnet_recv(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                // Like an echo server: the client's half-close ends the echo.
                _ = cnet_shutdown_write(fd)
                return
            }
            buffer[n - 1] ^= 0x01
            let sent = buffer.withUnsafeBytes { cnet_send_all(fd, $0.baseAddress, n, nil) }
            if sent < 0 { return }
        }
    }

    /// Reads and never answers, until the client leaves or stop().
    static let silent: Behaviour = { fd in
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { cnet_recv(fd, $0.baseAddress, $0.count) }
            if n == 0 || (n < 0 && n != -EAGAIN) { return }
        }
    }

    /// Echoes the first `bytes` bytes it receives, then closes.
    static func closesAfter(_ bytes: Int) -> Behaviour {
        { fd in
            var buffer = [UInt8](repeating: 0, count: max(bytes, 1))
            var moved = 0
            if bytes > 0 {
                _ = buffer.withUnsafeMutableBytes { cnet_recv_all(fd, $0.baseAddress, bytes, &moved) }
                _ = buffer.withUnsafeBytes { cnet_send_all(fd, $0.baseAddress, moved, nil) }
            }
            _ = cnet_shutdown_write(fd)
        }
    }
}

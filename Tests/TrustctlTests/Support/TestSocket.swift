import CNetShim
import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP client socket for black-box server tests, on CNetShim.
///
/// Every receive has a timeout (10 s unless told), so a server that stops
/// answering fails the test instead of hanging it. Sendable so a test can
/// send on one thread and receive on another; the descriptor is closed once.
final class TestSocket: Sendable {
    /// Generous: other tests share the two cores; this bounds, never measures.
    static let defaultTimeoutMs: Int32 = 10_000

    let descriptor: Int32
    /// This side's port, which the server logs as the peer's port (kept:
    /// it is still needed after the socket is closed).
    let localPort: UInt16
    private let closed = Atomic<Bool>(false)

    /// Connects to `host`:`port` (waiting at most `timeoutMs`) with receive
    /// and send timeouts of `timeoutMs`.
    init(host: String = "127.0.0.1", port: UInt16, timeoutMs: Int32 = TestSocket.defaultTimeoutMs) throws {
        let fd = cnet_tcp_connect_host(host, port, timeoutMs, 0)
        guard fd >= 0 else {
            throw TestSocketError("connect \(host):\(port): \(String(cString: cnet_errno_name(fd)))")
        }
        descriptor = fd
        localPort = UInt16(truncatingIfNeeded: cnet_local_port(fd))
        _ = cnet_set_recv_timeout(fd, timeoutMs)
        _ = cnet_set_send_timeout(fd, timeoutMs)
        _ = cnet_set_nodelay(fd, 1)
    }

    deinit { close() }

    func setReceiveTimeout(ms: Int32) { _ = cnet_set_recv_timeout(descriptor, ms) }
    func setSendTimeout(ms: Int32) { _ = cnet_set_send_timeout(descriptor, ms) }

    /// Sends every byte or throws (timeout, reset, broken pipe).
    func send(_ bytes: [UInt8]) throws {
        let (result, sent) = sendReporting(bytes)
        if result < 0 {
            throw TestSocketError("send: \(String(cString: cnet_errno_name(Int32(result)))) after \(sent) bytes")
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// cnet_send_all's result (count or -errno) and how many bytes moved.
    func sendReporting(_ bytes: [UInt8]) -> (result: Int, sent: Int) {
        Self.sendAll(descriptor, bytes)
    }

    /// `cnet_send_all` reads exactly `count` bytes from the array's own
    /// contiguous storage, which outlives the call.
    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> (result: Int, sent: Int) {
        var sent = 0
        let result = bytes.withUnsafeBytes { buffer in
            cnet_send_all(fd, buffer.baseAddress, buffer.count, &sent)
        }
        return (result, sent)
    }

    /// Exactly `count` bytes; throws on timeout, error or end of stream first.
    func receive(exactly count: Int) throws -> [UInt8] {
        let (bytes, result) = receiveReporting(upTo: count)
        if result < 0 {
            throw TestSocketError(
                "receive \(count): \(String(cString: cnet_errno_name(Int32(result)))) after \(bytes.count) bytes")
        }
        if bytes.count < count {
            throw TestSocketError("receive \(count): peer closed after \(bytes.count) bytes")
        }
        return bytes
    }

    /// Up to `count` bytes (fewer only at end of stream) and cnet_recv_all's result.
    func receiveReporting(upTo count: Int) -> (bytes: [UInt8], result: Int) {
        Self.receiveAll(descriptor, count)
    }

    /// `cnet_recv_all` writes at most `count` bytes into a buffer of exactly
    /// `count` bytes and reports how many it wrote, which sets the length.
    private static func receiveAll(_ fd: Int32, _ count: Int) -> (bytes: [UInt8], result: Int) {
        var result = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var received = 0
            result = cnet_recv_all(fd, buffer.baseAddress, count, &received)
            initialized = received
        }
        return (bytes, result)
    }

    /// Everything until the peer closes (at most `limit` bytes); throws on
    /// timeout or error. A reset after the data counts as an error.
    func receiveToEnd(limit: Int = 64 << 20) throws -> [UInt8] {
        var all: [UInt8] = []
        // Bounded by `limit` and by the receive timeout of each call.
        while all.count < limit {
            let wanted = min(64 * 1024, limit - all.count)
            let (bytes, result) = receiveReporting(upTo: wanted)
            all += bytes
            if result < 0 {
                throw TestSocketError(
                    "receive to end: \(String(cString: cnet_errno_name(Int32(result)))) after \(all.count) bytes")
            }
            if bytes.count < wanted { return all }
        }
        return all
    }

    /// What one recv sees when the server closes this connection: 0 for a
    /// clean close, -ECONNRESET for a reset, -EAGAIN if nothing happened
    /// within the receive timeout, or a positive count if data arrived.
    func receiveOnce(max: Int = 65536) -> Int {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { cnet_recv(descriptor, $0.baseAddress, $0.count) }
        return n
    }

    /// Sends one frame and expects its echo (header and payload) back.
    func echoFrame(_ payload: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        let frame = TestFrame.encode(payload)
        try send(frame)
        XCTAssertEqual(try receive(exactly: frame.count), frame, "framed echo", file: file, line: line)
    }

    /// Sends raw bytes and expects the same bytes back.
    func echoRaw(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        try send(bytes)
        XCTAssertEqual(try receive(exactly: bytes.count), bytes, "raw echo", file: file, line: line)
    }

    func shutdownWrite() { _ = cnet_shutdown_write(descriptor) }

    /// Wakes any thread blocked in send or recv on this socket (close alone does not).
    func shutdownBoth() { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Close with RST instead of FIN.
    func closeWithReset() {
        _ = cnet_set_linger_reset(descriptor)
        close()
    }

    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { _ = cnet_close(descriptor) }
    }
}

struct TestSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The framed protocol: a 4-byte big-endian length, then the payload.
enum TestFrame {
    static func header(_ length: UInt32) -> [UInt8] {
        [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }

    static func encode(_ payload: [UInt8]) -> [UInt8] {
        header(UInt32(payload.count)) + payload
    }

    /// A payload whose bytes depend on `seed` and position, so a misplaced
    /// or swapped byte shows.
    static func payload(count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ ($0 >> 8)) }
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a long stream can be
/// regenerated for checking instead of being kept.
struct TestByteStream {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[i] = UInt8(truncatingIfNeeded: state >> 24)
        }
        return bytes
    }
}

/// Sends a deterministic raw stream on a background thread in 64 KiB
/// chunks, counting what the kernel took. For clients that do not read:
/// the count stops growing once the server applies backpressure.
final class BackgroundSender: Sendable {
    let socket: TestSocket
    let total: Int
    private let sentBytes = Atomic<Int>(0)
    private let stop = Atomic<Bool>(false)
    private let done = Atomic<Bool>(false)
    private let outcome = Mutex<String?>(nil)

    init(socket: TestSocket, total: Int, seed: UInt64) {
        self.socket = socket
        self.total = total
        // Short send timeouts so the thread notices `stop` while blocked;
        // the whole run is bounded by a deadline as well.
        socket.setSendTimeout(ms: 250)
        Thread.detachNewThread { [self] in
            var stream = TestByteStream(seed: seed)
            let deadline = Date(timeIntervalSinceNow: 120)
            var pending: [UInt8] = []
            while !stop.load(ordering: .acquiring) && Date() < deadline {
                if pending.isEmpty {
                    let offset = sentBytes.load(ordering: .relaxed)
                    if offset >= total { break }
                    pending = stream.next(min(64 * 1024, total - offset))
                }
                let (result, sent) = socket.sendReporting(pending)
                sentBytes.add(sent, ordering: .relaxed)
                pending.removeFirst(sent)
                if result < 0 && Int32(result) != -EAGAIN {
                    outcome.withLock { $0 = String(cString: cnet_errno_name(Int32(result))) }
                    break
                }
            }
            done.store(true, ordering: .releasing)
        }
    }

    var sent: Int { sentBytes.load(ordering: .relaxed) }
    var isDone: Bool { done.load(ordering: .acquiring) }
    /// The errno name that ended the sending, if one did.
    var error: String? { outcome.withLock { $0 } }

    /// Waits until no byte moved for `quiet` seconds (the server stopped
    /// reading), or the whole stream went out, or `timeout` passed.
    /// Returns the bytes sent by then.
    @discardableResult
    func waitUntilStalled(quiet: Double = 0.5, timeout: Double = 30) -> Int {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var last = sent
        var lastChange = Date()
        while Date() < deadline && !isDone {
            usleep(50_000)
            let now = sent
            if now != last {
                last = now
                lastChange = Date()
            } else if Date().timeIntervalSince(lastChange) >= quiet {
                break
            }
        }
        return sent
    }

    /// Stops the thread (waking a blocked send) and waits for it, bounded.
    func finish() {
        stop.store(true, ordering: .releasing)
        _ = waitUntil(timeout: 10) { self.isDone }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
@discardableResult
func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    // Bounded by the deadline.
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}

import CNetShim
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The echo client of SPEC §7: one blocking connection, each message sent,
/// its echo read back and checked byte for byte.
///
/// Blocking calls with SO_RCVTIMEO/SO_SNDTIMEO keep it simple and bounded:
/// every wait ends within `timeout`. An exchange larger than what the socket
/// buffers can hold is sent from a second thread while this one reads,
/// because the server echoes as it reads and stops reading (backpressure)
/// once its echoes are not collected: send-then-read would deadlock.
public struct EchoClient: Sendable {
    public struct Options: Sendable, Equatable {
        public var host: String
        public var port: UInt16
        /// Sent as given (UTF-8). Empty when `payloadSize` is set.
        public var messages: [String]
        /// One generated payload of this many bytes instead of messages.
        public var payloadSize: Int?
        /// Unframed: send everything, half-close, read to end of stream.
        public var raw: Bool
        /// Seconds: the connect timeout and the longest wait for any send
        /// or receive call.
        public var timeout: Double
        /// How many times each message is sent.
        public var count: Int
        /// `--tls`: speak TLS to the server (EchoClient+TLS.swift).
        public var tls: TLSClientOptions? = nil

        public init(
            host: String, port: UInt16, messages: [String], payloadSize: Int? = nil, raw: Bool = false,
            timeout: Double = 10, count: Int = 1
        ) {
            self.host = host
            self.port = port
            self.messages = messages
            self.payloadSize = payloadSize
            self.raw = raw
            self.timeout = timeout
            self.count = count
        }

        /// The largest generated payload (`NumberRange.clientPayloadSize`).
        public static let maxPayloadSize = Int(NumberRange.clientPayloadSize.maximum)
        /// The most bytes a raw exchange of messages may add up to: the
        /// client holds them, and their echo, in memory.
        public static let maxRawBytes = maxPayloadSize

        /// Checks what the command line cannot express by types alone, and
        /// values set in code against the range table.
        public func validate() throws(TrustError) {
            if messages.isEmpty && payloadSize == nil {
                throw .usage("give at least one <message> or --payload-size <bytes>")
            }
            if !messages.isEmpty && payloadSize != nil {
                throw .usage("--payload-size replaces <message> arguments: give one or the other")
            }
            try NumberRange.clientPort.check(Int(port), "<port>")
            if let size = payloadSize {
                try NumberRange.clientPayloadSize.check(size, "--payload-size")
                if raw && size == 0 {
                    throw .usage(
                        "--payload-size: 0 is out of range with --raw: expected bytes 1-\(Options.maxPayloadSize)")
                }
            }
            try NumberRange.clientTimeout.check(timeout, "--timeout")
            try NumberRange.clientCount.check(count, "--count")
            if raw {
                // Bounded before multiplying: count <= 1e6 and each message fits in argv.
                let perRound = messages.reduce(0) { $0 + $1.utf8.count + 1 }
                if perRound * count > Options.maxRawBytes {
                    throw .usage(
                        "--count: \(count) rounds of \(perRound) bytes exceed the \(Options.maxRawBytes) bytes a raw exchange may hold"
                    )
                }
            }
        }
    }

    public let options: Options

    public init(options: Options) throws(TrustError) {
        try options.validate()
        self.options = options
    }

    /// Exchanges at most this many bytes by sending first, then reading;
    /// larger exchanges overlap the two (see the type's comment).
    static let sequentialLimit = 64 * 1024

    /// Connects, exchanges everything, and reports each verified echo
    /// through `output`, one line at a time.
    public func run(output: (String) -> Void) throws(TrustError) {
        // A bad --tls-ca is a usage error before any connect.
        let tlsContext = try options.tls.map { tls throws(TrustError) in try tls.makeContext() }
        let fd = try connect()
        defer { _ = cnet_close(fd) }
        if let tls = options.tls, let tlsContext {
            try runTLS(fd, tls, tlsContext, output: output)
            return
        }
        if options.raw {
            try exchangeRaw(fd, output: output)
        } else {
            try exchangeFramed(fd, output: output)
        }
    }

    /// The timeout in whole milliseconds for the socket calls, rounded up
    /// and saturating: a value validation lets through never traps here
    /// (NaN or below a millisecond gives 1 ms, beyond Int32 gives Int32.max,
    /// about 24 days).
    var timeoutMs: Int32 { EchoClient.milliseconds(seconds: options.timeout) }

    static func milliseconds(seconds: Double) -> Int32 {
        let milliseconds = (seconds * 1000).rounded(.up)
        guard milliseconds >= 1 else { return 1 }
        guard milliseconds < Double(Int32.max) else { return .max }
        return Int32(milliseconds)
    }

    var target: String { SocketAddress.display(host: options.host, port: options.port) }

    func connect() throws(TrustError) -> Int32 {
        let addresses = try SocketAddress.resolveAll(
            host: options.host, port: options.port, portSetting: "the PORT argument")
        let fd = SocketAddress.connect(addresses, timeoutMs: timeoutMs).fd
        if fd < 0 {
            let errno = Errno(rawValue: fd)
            let why = errno == .timedOut ? "timed out after \(options.timeout) s" : errno.description
            throw TrustError(
                kind: .system, message: "cannot connect to \(target): \(why)", errno: errno, operation: "connect")
        }
        _ = cnet_set_nodelay(fd, 1)
        _ = cnet_set_recv_timeout(fd, timeoutMs)
        _ = cnet_set_send_timeout(fd, timeoutMs)
        return fd
    }

    // MARK: - Framed

    private func exchangeFramed(_ fd: Int32, output: (String) -> Void) throws(TrustError) {
        if let size = options.payloadSize {
            guard UInt32(exactly: size) != nil else {
                throw .usage("--payload-size \(size) does not fit a frame's 32-bit length; use --raw")
            }
            let payload = PayloadPattern.bytes(count: size)
            try roundTrip(fd, frame: FrameEncoder.encode(payload))
            output("echoed \(size) bytes, verified")
            return
        }
        for message in options.messages {
            let frame = FrameEncoder.encode(message.utf8)
            for _ in 0..<options.count {
                try roundTrip(fd, frame: frame)
                output(message)
            }
        }
    }

    private func roundTrip(_ fd: Int32, frame: [UInt8]) throws(TrustError) {
        let echo = try exchange(fd, sending: frame, receiving: frame.count, halfClose: false)
        try verify(echo, against: frame)
    }

    // MARK: - Raw

    private func exchangeRaw(_ fd: Int32, output: (String) -> Void) throws(TrustError) {
        var bytes: [UInt8]
        if let size = options.payloadSize {
            bytes = PayloadPattern.bytes(count: size)
        } else {
            // Like `echo`: the messages joined with spaces would be one line;
            // one line per message matches the framed output, so each
            // message is followed by a newline.
            let text = options.messages.map { $0 + "\n" }.joined()
            bytes = []
            for _ in 0..<options.count { bytes.append(contentsOf: text.utf8) }
        }
        // One byte more than sent: an echo that does not stop at what was
        // sent is a mismatch, not something to read forever.
        let echo = try exchange(fd, sending: bytes, receiving: bytes.count + 1, halfClose: true)
        if echo.count > bytes.count {
            throw TrustError(
                kind: .dataMismatch,
                message: "the server echoed more bytes than the \(bytes.count) sent")
        }
        try verify(echo, against: bytes)
        if options.payloadSize != nil {
            output("echoed \(bytes.count) bytes, verified")
        } else {
            var text = String(decoding: echo, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) { output(String(line)) }
        }
    }

    // MARK: - Moving bytes

    /// Sends `bytes` and receives up to `expected` bytes of echo (fewer if
    /// the server closes first). Failures of either direction become the
    /// one error that explains what the user sees.
    private func exchange(_ fd: Int32, sending bytes: [UInt8], receiving expected: Int, halfClose: Bool)
        throws(TrustError) -> [UInt8]
    {
        if bytes.count <= EchoClient.sequentialLimit {
            let sent = EchoClient.sendAll(fd, bytes, halfClose: halfClose)
            if sent.rc < 0 {
                try sendFailed(Errno(rawValue: Int32(truncatingIfNeeded: sent.rc)), sent: sent.moved, of: bytes.count)
            }
            let received = EchoClient.receive(fd, count: expected)
            try check(received, expected: expected, sent: bytes)
            return received.bytes
        }
        let senderResult = Mutex<(rc: Int, moved: Int)>((0, 0))
        let sender = LoopThread.start(name: "echo-client-send") {
            let result = EchoClient.sendAll(fd, bytes, halfClose: halfClose)
            senderResult.withLock { $0 = result }
        }
        let received = EchoClient.receive(fd, count: expected)
        let receivedEverything = received.rc >= 0 && received.bytes.count >= min(expected, bytes.count)
        if !receivedEverything {
            // Unblock a sender stuck on a peer that stopped reading.
            _ = shutdown(fd, Int32(SHUT_RDWR))
        }
        sender.join()
        try check(received, expected: expected, sent: bytes)
        let sent = senderResult.withLock { $0 }
        if sent.rc < 0 {
            try sendFailed(Errno(rawValue: Int32(truncatingIfNeeded: sent.rc)), sent: sent.moved, of: bytes.count)
        }
        return received.bytes
    }

    func sendFailed(_ errno: Errno, sent: Int, of total: Int) throws(TrustError) {
        if errno == .wouldBlock {
            throw TrustError(
                kind: .system,
                message: "timed out after \(options.timeout) s sending to \(target) (\(sent) of \(total) bytes sent)",
                errno: .timedOut, operation: "send")
        }
        throw TrustError(
            kind: .system,
            message: "server closed the connection after taking \(sent) of \(total) bytes (\(errno.name))",
            errno: errno, operation: "send")
    }

    func check(_ received: (rc: Int, bytes: [UInt8]), expected: Int, sent: [UInt8]) throws(TrustError) {
        let want = min(expected, sent.count)
        if received.rc < 0 {
            // Bytes that came back wrong explain more than the failure after them.
            let common = min(received.bytes.count, sent.count)
            if let index = EchoClient.firstDifference(received.bytes, sent, count: common) {
                throw mismatch(at: index, sent: sent, echo: received.bytes)
            }
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: received.rc))
            if errno == .wouldBlock {
                throw TrustError(
                    kind: .system,
                    message:
                        "timed out after \(options.timeout) s waiting for the echo (\(received.bytes.count) of \(want) bytes received)",
                    errno: .timedOut, operation: "recv")
            }
            throw TrustError(
                kind: .system,
                message: "server reset the connection after \(received.bytes.count) of \(want) echo bytes",
                errno: errno, operation: "recv")
        }
        // A short echo (the server closed first) is reported by `verify`,
        // which compares what did come back first: a wrong echo is the
        // better diagnosis than its being short.
    }

    /// The echo must equal what was sent; a shorter echo is compared as a
    /// prefix, then reported as the server closing early.
    func verify(_ echo: [UInt8], against sent: [UInt8]) throws(TrustError) {
        let common = min(echo.count, sent.count)
        let mismatch = EchoClient.firstDifference(echo, sent, count: common)
        if let index = mismatch { throw self.mismatch(at: index, sent: sent, echo: echo) }
        if echo.count < sent.count {
            throw TrustError(
                kind: .closedEarly,
                message: "server closed the connection after \(echo.count) of \(sent.count) echo bytes")
        }
    }

    func mismatch(at index: Int, sent: [UInt8], echo: [UInt8]) -> TrustError {
        TrustError(
            kind: .dataMismatch,
            message:
                "echo differs from what was sent at byte \(index) of \(sent.count) (sent 0x\(EchoClient.hex(sent[index])), got 0x\(EchoClient.hex(echo[index])))"
        )
    }

    static func firstDifference(_ a: [UInt8], _ b: [UInt8], count: Int) -> Int? {
        for i in 0..<count where a[i] != b[i] { return i }
        return nil
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }

    /// cnet_send_all from an array: the buffer pointer is valid for the
    /// duration of the closure, which is the duration of the call.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], halfClose: Bool) -> (rc: Int, moved: Int) {
        var moved = 0
        let rc = bytes.withUnsafeBytes { cnet_send_all(fd, $0.baseAddress, $0.count, &moved) }
        if rc >= 0 && halfClose { _ = cnet_shutdown_write(fd) }
        return (rc, moved)
    }

    /// cnet_recv_all into a fresh array: the array is allocated with `count`
    /// bytes first and the call writes at most `count`, then it is trimmed
    /// to what arrived.
    static func receive(_ fd: Int32, count: Int) -> (rc: Int, bytes: [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: count)
        var moved = 0
        let rc = buffer.withUnsafeMutableBytes { cnet_recv_all(fd, $0.baseAddress, $0.count, &moved) }
        buffer.removeLast(count - moved)
        return (rc, buffer)
    }
}

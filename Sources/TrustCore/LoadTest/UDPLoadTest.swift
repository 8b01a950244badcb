import CNetShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-load-test --transport udp` (SPEC §8, §12; docs/udp.md): `--clients`
/// UDP sockets (sources), each sending `--messages` datagrams of
/// `--payload-size` bytes to the server and checking the echoes.
///
/// Every datagram carries its sequence number (8 bytes, big-endian), its
/// send time (8 bytes, ns; with `--rate`, the scheduled time, so latency
/// has no coordinated omission) and then bytes derived from the sequence
/// number, so each echo is verified whole. Counted: sent, received (first
/// copy of each), lost (never echoed), reordered (an echo older than one
/// already seen on its socket), duplicates, mismatched, latency
/// percentiles.
///
/// Closed loop (no `--rate`): each socket has one datagram in flight; one
/// not echoed within `--timeout` is lost and the next is sent. Open loop
/// (`--rate R`, the natural mode for UDP): R datagrams/s in total,
/// round-robin over the sockets, whatever comes back; `--duration S` then
/// sends R × S datagrams. After the last send, echoes are awaited for
/// `--timeout` at most. In the closed loop, `--duration S` stops sending
/// after S seconds (or after clients × messages, whichever comes first).
public struct UDPLoadTest: Sendable {
    public let options: LoadTestOptions
    /// Largest loss (percent of sent) still a success; 0: any loss fails.
    public let maxLoss: Double

    /// The sequence number and the timestamp.
    public static let headerSize = 16
    public static let maxSockets = 10_000
    public static let maxDatagrams = 100_000_000

    public init(options: LoadTestOptions, maxLoss: Double = 0) throws(TrustError) {
        try options.validate()
        if options.payloadSize < UDPLoadTest.headerSize || options.payloadSize > Int(CNET_UDP_MAX_PAYLOAD) {
            throw .usage(
                "--payload-size: \(options.payloadSize) is out of range with --transport udp: expected bytes \(UDPLoadTest.headerSize)-\(CNET_UDP_MAX_PAYLOAD)"
            )
        }
        if options.clients > UDPLoadTest.maxSockets {
            throw .usage(
                "--clients: \(options.clients) is out of range with --transport udp: expected integer 1-\(UDPLoadTest.maxSockets) (one socket each)"
            )
        }
        if !(0...100).contains(maxLoss) {
            throw .usage("--max-loss: \(maxLoss) is out of range: expected percent 0-100")
        }
        if UDPLoadTest.planned(options) > UDPLoadTest.maxDatagrams {
            throw .usage("--transport udp sends at most \(UDPLoadTest.maxDatagrams) datagrams per run")
        }
        self.options = options
        self.maxLoss = maxLoss
    }

    static func planned(_ options: LoadTestOptions) -> Int {
        if let rate = options.rate, let duration = options.duration {
            return Int(min(rate * duration, 1e12).rounded(.up))
        }
        let product = options.clients.multipliedReportingOverflow(by: options.messages)
        return product.overflow ? Int.max : product.partialValue
    }

    /// Runs the test. Throws only when it cannot start (unresolvable host,
    /// no socket).
    public func run() throws(TrustError) -> UDPLoadReport {
        let address = try SocketAddress.resolveAll(host: options.host, port: options.port)[0]
        var run = try UDPLoadRun(options: options, address: address, total: UDPLoadTest.planned(options))
        defer { run.close() }
        run.execute()
        return UDPLoadReport(options: options, maxLoss: maxLoss, tally: run.tally)
    }
}

/// What a UDP run counted.
public struct UDPLoadTally: Sendable {
    public var sent = 0
    public var received = 0
    public var reordered = 0
    public var duplicates = 0
    public var mismatched = 0
    /// ICMP port unreachable reported on a socket (ECONNREFUSED).
    public var refused = 0
    public var latency = LatencyRecorder()
    public var wallSeconds = 0.0
    public var lost: Int { max(0, sent - received) }
}

/// One run's sockets and state, on the calling thread.
struct UDPLoadRun {
    let options: LoadTestOptions
    let total: Int
    private var sockets: [Int32] = []
    /// Highest sequence echoed per socket, for reordering (-1: none yet).
    private var highest: [Int]
    /// One bit per datagram: echoed already (duplicates).
    private var seen: [UInt64]
    /// Closed loop: the sequence in flight per socket (-1: none) and its deadline.
    private var inFlight: [Int]
    private var deadline: [Int64]
    private var nextPerSocket: [Int]
    private var sendBuffer: [UInt8]
    private var receiveBuffer: [UInt8]
    private(set) var tally = UDPLoadTally()

    init(options: LoadTestOptions, address: cnet_address, total: Int) throws(TrustError) {
        self.options = options
        self.total = total
        let count = options.clients
        highest = Array(repeating: -1, count: count)
        seen = Array(repeating: 0, count: (total + 63) / 64)
        inFlight = Array(repeating: -1, count: count)
        deadline = Array(repeating: 0, count: count)
        nextPerSocket = Array(repeating: 0, count: count)
        sendBuffer = Array(repeating: 0, count: options.payloadSize)
        receiveBuffer = Array(repeating: 0, count: 65536)
        for _ in 0..<count {
            let fd = UDPLoadRun.connectedSocket(address)
            if fd < 0 {
                close()
                throw TrustError.system(Errno(rawValue: fd), operation: "UDP socket to \(options.host)")
            }
            sockets.append(fd)
        }
    }

    mutating func close() {
        for fd in sockets { _ = cnet_close(fd) }
        sockets = []
    }

    /// A non-blocking UDP socket connected to the server: it receives only
    /// the server's datagrams, and an ICMP port unreachable shows up as
    /// ECONNREFUSED. Safe: the storage outlives the call and `len` is what
    /// the resolver wrote.
    static func connectedSocket(_ address: cnet_address) -> Int32 {
        let fd = socket(
            Int32(address.addr.ss_family),
            Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return -errno }
        var copy = address
        let rc = withUnsafePointer(to: &copy.addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, copy.len) }
        }
        if rc < 0 {
            let code = -errno
            _ = cnet_close(fd)
            return code
        }
        _ = cnet_set_recv_buffer(fd, 4 << 20)
        return fd
    }

    mutating func execute() {
        let started = MonotonicClock.nanoseconds()
        let timeoutNs = Int64(min(options.timeout, 604_800) * 1e9)
        let intervalNs = options.rate.map { Int64(max(1e9 / $0, 1)) }
        // Closed loop with --duration: no new datagram after this.
        let endNs = options.duration.map { started &+ Int64(min($0, 604_800) * 1e9) } ?? Int64.max
        var lastSend = started
        var pollSet = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while true {
            let now = MonotonicClock.nanoseconds()
            if let intervalNs {
                // Open loop: every datagram whose time has come.
                while tally.sent < total {
                    let due = started &+ Int64(tally.sent) &* intervalNs
                    if due > now { break }
                    send(sequence: tally.sent, socket: tally.sent % sockets.count, stamp: due)
                    lastSend = now
                }
            } else {
                for index in 0..<sockets.count {
                    if inFlight[index] >= 0 && now >= deadline[index] { inFlight[index] = -1 }  // lost
                    if inFlight[index] < 0 && nextPerSocket[index] < options.messages && now < endNs {
                        let sequence = nextPerSocket[index] * sockets.count + index
                        nextPerSocket[index] += 1
                        inFlight[index] = sequence
                        deadline[index] = now + timeoutNs
                        send(sequence: sequence, socket: index, stamp: now)
                        lastSend = now
                    }
                }
            }
            let allSent = tally.sent >= total
            if intervalNs != nil {
                if allSent && (tally.received >= tally.sent || now - lastSend >= timeoutNs) { break }
            } else if (allSent || now >= endNs) && !inFlight.contains(where: { $0 >= 0 }) {
                break
            }
            var waitMs: Int32 = 10
            if let intervalNs, !allSent {
                let due = started &+ Int64(tally.sent) &* intervalNs
                waitMs = Int32(max(0, min(10, (due - now) / 1_000_000)))
            }
            let ready = poll(&pollSet, nfds_t(pollSet.count), waitMs)
            if ready <= 0 { continue }
            for index in 0..<pollSet.count where pollSet[index].revents != 0 {
                receiveAll(socket: index)
            }
        }
        tally.wallSeconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
    }

    private mutating func send(sequence: Int, socket index: Int, stamp: Int64) {
        UDPLoadRun.fill(&sendBuffer, sequence: UInt64(sequence), stamp: UInt64(stamp))
        let n = sendBuffer.withUnsafeBytes { Glibc.send(sockets[index], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 && errno == ECONNREFUSED { tally.refused += 1 }
        // Counted as sent even when the local buffer refused it: it is then lost.
        tally.sent += 1
    }

    private mutating func receiveAll(socket index: Int) {
        while true {
            let n = receiveBuffer.withUnsafeMutableBytes { recv(sockets[index], $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == ECONNREFUSED {
                    tally.refused += 1
                    continue
                }
                return
            }
            let now = MonotonicClock.nanoseconds()
            guard n == options.payloadSize, let (sequence, stamp) = UDPLoadRun.check(receiveBuffer, length: n),
                sequence < UInt64(total)
            else {
                tally.mismatched += 1
                continue
            }
            let s = Int(sequence)
            let word = s / 64
            let bit = UInt64(1) << UInt64(s % 64)
            if seen[word] & bit != 0 {
                tally.duplicates += 1
                continue
            }
            seen[word] |= bit
            tally.received += 1
            if s < highest[index] { tally.reordered += 1 } else { highest[index] = s }
            if inFlight[index] == s { inFlight[index] = -1 }
            tally.latency.record(nanoseconds: now - Int64(bitPattern: stamp))
        }
    }

    /// Sequence, stamp, then byte i = (sequence + i) & 0xff.
    static func fill(_ buffer: inout [UInt8], sequence: UInt64, stamp: UInt64) {
        for i in 0..<8 {
            buffer[i] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(i)))
            buffer[8 + i] = UInt8(truncatingIfNeeded: stamp >> (56 - 8 * UInt64(i)))
        }
        var value = UInt8(truncatingIfNeeded: sequence)
        for i in UDPLoadTest.headerSize..<buffer.count {
            buffer[i] = value
            value &+= 1
        }
    }

    /// The sequence and stamp of a received datagram, nil if its filler
    /// bytes are not the ones `fill` wrote.
    static func check(_ buffer: [UInt8], length: Int) -> (UInt64, UInt64)? {
        var sequence: UInt64 = 0
        var stamp: UInt64 = 0
        for i in 0..<8 {
            sequence = sequence << 8 | UInt64(buffer[i])
            stamp = stamp << 8 | UInt64(buffer[8 + i])
        }
        var value = UInt8(truncatingIfNeeded: sequence)
        for i in UDPLoadTest.headerSize..<length {
            if buffer[i] != value { return nil }
            value &+= 1
        }
        return (sequence, stamp)
    }
}

/// The summary and JSON of a UDP run (docs/udp.md).
public struct UDPLoadReport: Sendable {
    public let options: LoadTestOptions
    public let maxLoss: Double
    public let tally: UDPLoadTally

    public var lossPercent: Double { tally.sent == 0 ? 0 : Double(tally.lost) * 100 / Double(tally.sent) }
    public var datagramsPerSecond: Double { tally.wallSeconds > 0 ? Double(tally.received) / tally.wallSeconds : 0 }

    public var summary: String {
        var lines = [
            "\(tally.received)/\(tally.sent) echoed, \(tally.lost) lost (\(LoadTestReport.fixed(lossPercent, 3)) %), "
                + "\(tally.reordered) reordered, \(tally.duplicates) duplicates, \(tally.mismatched) mismatched",
            "datagrams/s: \(LoadTestReport.fixed(datagramsPerSecond, 1))",
        ]
        if tally.latency.count > 0 {
            let l = tally.latency.summary
            let from = options.rate == nil ? "from send" : "from scheduled send"
            lines.append(
                "latency us (\(from)): p50 \(l.p50) p90 \(l.p90) p99 \(l.p99) p99.9 \(l.p999) max \(l.max)")
        } else {
            lines.append("latency: no datagram echoed")
        }
        lines.append("wall time s: \(LoadTestReport.fixed(tally.wallSeconds, 3))")
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let l = tally.latency.summary
        let object: [String: Any] = [
            "transport": "udp", "host": options.host, "port": Int(options.port), "clients": options.clients,
            "messages": options.messages, "payload_size": options.payloadSize,
            "rate": options.rate.map { $0 as Any } ?? NSNull(),
            "duration": options.duration.map { $0 as Any } ?? NSNull(), "timeout": options.timeout,
            "max_loss_percent": maxLoss,
            "sent": tally.sent, "received": tally.received, "lost": tally.lost,
            "loss_percent": LoadTestReport.rounded(lossPercent, 3), "reordered": tally.reordered,
            "duplicates": tally.duplicates, "mismatched": tally.mismatched, "refused": tally.refused,
            "datagrams_per_s": LoadTestReport.rounded(datagramsPerSecond, 1),
            "latency_us": tally.latency.count == 0
                ? NSNull()
                : [
                    "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max, "min": l.min,
                    "mean": LoadTestReport.rounded(l.mean, 1),
                ] as Any,
            "latency_from": options.rate == nil ? "send" : "scheduled_send",
            "wall_time_s": LoadTestReport.rounded(tally.wallSeconds, 3),
            "exit_code": Int(error?.exitCode ?? 0),
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return "{}" }
        return text
    }

    /// nil on success. Mismatch 65; nothing echoed and ICMP refusals 69;
    /// loss above `--max-loss` 74.
    public var error: TrustError? {
        if tally.mismatched > 0 {
            return TrustError(
                kind: .dataMismatch, message: "\(tally.mismatched) echoed datagrams differed from what was sent")
        }
        if tally.received == 0 && tally.refused > 0 {
            return TrustError(
                kind: .system, message: "nothing listens on UDP \(options.host):\(options.port) (port unreachable)",
                errno: .connectionRefused)
        }
        if lossPercent > maxLoss || (maxLoss == 0 && tally.lost > 0) {
            return TrustError(
                kind: .closedEarly,
                message:
                    "\(tally.lost) of \(tally.sent) datagrams lost (\(LoadTestReport.fixed(lossPercent, 3)) %), above --max-loss \(LoadTestReport.fixed(maxLoss, 3)) %"
            )
        }
        return nil
    }
}

/// `echo-load-test --transport tcp|udp`.
public enum LoadTestTransport: String, Sendable, CaseIterable {
    case tcp
    case udp
}

import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A running `trustctl echo-server` started by a test: its process, the
/// port from its ready line, and its private TRUST_HOME.
struct EchoServerUnderTest {
    let process: RunningTrustctl
    let ready: ServerReadyLine
    let environment: TrustctlTestEnvironment

    var port: UInt16 { ready.port }
    var pid: Int32 { process.pid }
    var log: ServerLog { ServerLog(file: environment.trustHome.appendingPathComponent("logs/trustctl.log")) }

    /// A client connected to this server (on `host`, loopback IPv4 unless told).
    func connect(host: String = "127.0.0.1") throws -> TestSocket {
        try TestSocket(host: host, port: port)
    }

    /// SIGTERM, then the exit code (bounded wait: the drain plus slack).
    func stop(timeout: Double = 30) throws -> Int32 {
        process.sendSignal(SIGTERM)
        return try process.waitForExit(timeout: timeout)
    }

    var stats: ProcessStats { ProcessStats(pid: pid) }
}

extension XCTestCase {
    /// Starts `trustctl echo-server --port 0 --host HOST OPTIONS` with its own
    /// TRUST_HOME and waits (bounded) for its ready line.
    func startEchoServer(
        _ options: [String] = [], host: String = "127.0.0.1", environment: TrustctlTestEnvironment? = nil,
        launcher: [String] = [], file: StaticString = #filePath, line: UInt = #line
    ) throws -> EchoServerUnderTest {
        try startEchoServer(
            port: 0, options, host: host, environment: environment, launcher: launcher, file: file, line: line)
    }

    func startEchoServer(
        port: UInt16, _ options: [String] = [], host: String = "127.0.0.1",
        environment: TrustctlTestEnvironment? = nil, launcher: [String] = [],
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> EchoServerUnderTest {
        let environment = try environment ?? makeTrustctlEnvironment()
        let arguments = ["echo-server", "--port", String(port), "--host", host] + options
        let process = try startTrustctl(arguments, environment: environment.variables, launcher: launcher)
        let ready = try process.waitForReady(timeout: 30)
        XCTAssertNotEqual(ready.port, 0, "ready line must carry the real port", file: file, line: line)
        return EchoServerUnderTest(process: process, ready: ready, environment: environment)
    }
}

/// One parsed line of trustctl.log.
struct LogEntry: CustomStringConvertible {
    let fields: [String: Any]
    let text: String

    var event: String? { fields["event"] as? String }
    var reason: String? { fields["reason"] as? String }
    var requestID: String? { fields["request_id"] as? String }
    var peer: String? { fields["peer"] as? String }

    func string(_ key: String) -> String? { fields[key] as? String }

    /// A JSON number (not a numeric string).
    func integer(_ key: String) -> Int? {
        guard let number = fields[key] as? NSNumber, !(fields[key] is String) else { return nil }
        return number.intValue
    }

    /// True if this line is about the client whose local port is `port`.
    func isPeer(port: UInt16) -> Bool { peer?.hasSuffix(":\(port)") ?? false }

    var description: String { text }
}

/// The server's JSON-lines log. The writer is asynchronous, so waits poll.
struct ServerLog {
    let file: URL

    /// Every complete line (a partial last line is left out).
    func lines() -> [String] {
        guard let data = try? Data(contentsOf: file) else { return [] }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // empty after the final newline, or an incomplete line
        return lines.map(String.init)
    }

    /// Every line that parses as a JSON object.
    func entries() -> [LogEntry] {
        lines().compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return LogEntry(fields: object, text: line)
        }
    }

    func entries(event: String) -> [LogEntry] { entries().filter { $0.event == event } }

    /// Polls (bounded) until a line matching `predicate` is in the file.
    func waitForEntry(timeout: Double = 10, where predicate: (LogEntry) -> Bool) -> LogEntry? {
        var found: LogEntry?
        waitUntil(timeout: timeout) {
            found = entries().first(where: predicate)
            return found != nil
        }
        return found
    }

    func waitForEntry(event: String, timeout: Double = 10) -> LogEntry? {
        waitForEntry(timeout: timeout) { $0.event == event }
    }

    /// The `connection_closed` line of the client whose local port is `port`.
    func waitForClose(ofClientPort port: UInt16, timeout: Double = 10) -> LogEntry? {
        waitForEntry(timeout: timeout) { $0.event == "connection_closed" && $0.isPeer(port: port) }
    }
}

/// What /proc says about a process.
struct ProcessStats {
    let pid: Int32

    /// Open descriptors: entries of /proc/PID/fd.
    var descriptorCount: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// VmRSS from /proc/PID/status, in KiB.
    var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// User plus system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat).
    var cpuTicks: Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": field 3 (state) is the first.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    static var ticksPerSecond: Int { sysconf(Int32(_SC_CLK_TCK)) }

    /// Polls until the descriptor count equals `expected`; returns the last count seen.
    func waitForDescriptorCount(_ expected: Int, timeout: Double = 10) -> Int? {
        var last: Int?
        waitUntil(timeout: timeout) {
            last = descriptorCount
            return last == expected
        }
        return last
    }

    /// The idle descriptor count: polled until two reads 100 ms apart agree.
    func settledDescriptorCount(timeout: Double = 10) -> Int? {
        var previous = descriptorCount
        var settled: Int?
        waitUntil(timeout: timeout) {
            usleep(100_000)
            let now = descriptorCount
            if now == previous {
                settled = now
                return true
            }
            previous = now
            return false
        }
        return settled
    }
}

import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `trustctl` binary for black-box tests.
///
/// `run` is for one-shot commands; `start` for long-running servers. Both
/// read stdout and stderr on their own threads so a chatty child never blocks
/// on a full pipe, and both bound every wait: a child that outlives its
/// timeout is killed (SIGKILL, by PID) and the test fails instead of hanging.
enum TrustctlProcess {
    /// The built `trustctl`, next to the test bundle in the products directory
    /// (`Bundle.main.bundleURL` is `.build/<config>` when XCTest runs on Linux).
    static func binaryURL() throws -> URL {
        let candidates = [
            Bundle.main.bundleURL,
            Bundle.main.bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent(),
        ]
        for directory in candidates {
            let binary = directory.appendingPathComponent("trustctl")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw TrustctlProcessError(
            "trustctl binary not found in \(candidates.map(\.path)); run `swift build` before the tests")
    }

    /// Runs `trustctl ARGS` to completion with exactly `environment`.
    /// A child still running after `timeout` seconds is killed and the test fails.
    static func run(
        _ arguments: [String],
        environment: [String: String],
        stdin: Data? = nil,
        timeout: Double = 30,
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> TrustctlResult {
        let child = try LaunchedChild(arguments: arguments, environment: environment, stdin: stdin)
        guard let status = child.waitForExit(timeout: timeout) else {
            child.killIfRunning()
            _ = child.waitForExit(timeout: 10)
            let message =
                "trustctl \(arguments.joined(separator: " ")) still running after \(timeout)s; killed. "
                + "stdout: \(child.stdout.text) stderr: \(child.stderr.text)"
            XCTFail(message, file: file, line: line)
            throw TrustctlProcessError(message)
        }
        // The child is gone; its pipes close unless it left a grandchild holding them.
        child.stdout.waitForEndOfFile(timeout: 10)
        child.stderr.waitForEndOfFile(timeout: 10)
        return TrustctlResult(exitCode: status, stdout: child.stdout.text, stderr: child.stderr.text)
    }

    /// Starts `trustctl ARGS` in the background (a server). The returned
    /// object SIGKILLs the child when released if it is still running.
    ///
    /// `launcher` runs the binary through a program that execs it in place,
    /// so the PID stays trustctl's: e.g. `["/usr/bin/prlimit", "--nofile=64", "--"]`.
    static func start(
        _ arguments: [String], environment: [String: String], launcher: [String] = []
    ) throws -> RunningTrustctl {
        RunningTrustctl(
            child: try LaunchedChild(
                arguments: arguments, environment: environment, stdin: nil, launcher: launcher))
    }
}

/// What a finished command left: its exit code and everything it printed.
struct TrustctlResult: Sendable {
    /// The exit status, or 128 + N when killed by signal N (as a shell reports it).
    let exitCode: Int32
    let stdout: String
    let stderr: String

    /// stderr split into lines, without the empty tail after the last newline.
    var stderrLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLastIfEmpty()
    }
    var stdoutLines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLastIfEmpty()
    }
}

struct TrustctlProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `listening on HOST:PORT (mode M, N workers)`, parsed.
struct ServerReadyLine: Sendable, Equatable {
    let host: String
    let port: UInt16
    let mode: String
    let workers: Int

    init(host: String, port: UInt16, mode: String, workers: Int) {
        self.host = host
        self.port = port
        self.mode = mode
        self.workers = workers
    }

    /// nil if `line` is not a ready line.
    init?(_ line: String) {
        let prefix = "listening on "
        guard let start = line.range(of: prefix),
            let open = line.range(of: " (", range: start.upperBound..<line.endIndex)
        else { return nil }
        let address = line[start.upperBound..<open.lowerBound]
        guard let colon = address.lastIndex(of: ":"),
            let port = UInt16(address[address.index(after: colon)...])
        else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        // "mode M, N workers)" for echo-server, "LABEL, N workers)" for a
        // server built on the core (the kv-server example).
        var details = line[open.upperBound...]
        if details.hasPrefix("mode ") { details = details.dropFirst("mode ".count) }
        guard let comma = details.firstIndex(of: ","),
            details.hasSuffix(" workers)") || details.hasSuffix(" worker)")
        else { return nil }
        let mode = String(details[..<comma])
        let count = details[details.index(after: comma)...].drop(while: { $0 == " " }).prefix(
            while: \.isNumber)
        guard let workers = Int(count) else { return nil }
        self.host = host
        self.port = port
        self.mode = mode
        self.workers = workers
    }
}

/// A `trustctl` running in the background, usually a server.
final class RunningTrustctl: Sendable {
    private let child: LaunchedChild

    fileprivate init(child: LaunchedChild) {
        self.child = child
    }

    deinit {
        child.killIfRunning()
    }

    var pid: Int32 { child.pid }
    /// Everything printed on stdout so far.
    var stdout: String { child.stdout.text }
    /// Everything printed on stderr so far.
    var stderr: String { child.stderr.text }

    /// The first complete stdout line (from the start) matching `predicate`;
    /// throws if none shows within `timeout` or stdout closes first.
    @discardableResult
    func waitForLine(
        timeout: Double = 30, matching predicate: @escaping @Sendable (String) -> Bool
    ) throws -> String {
        if let line = child.stdout.waitForLine(timeout: timeout, matching: predicate) { return line }
        throw TrustctlProcessError(
            "no matching stdout line within \(timeout)s (pid \(pid), running: \(child.isRunning)); "
                + "stdout: \(stdout) stderr: \(stderr)")
    }

    /// Waits for `listening on HOST:PORT (mode M, N workers)` and returns the port.
    @discardableResult
    func waitForReadyLine(timeout: Double = 30) throws -> UInt16 {
        try waitForReady(timeout: timeout).port
    }

    /// Waits for the ready line and returns all of it, parsed.
    func waitForReady(timeout: Double = 30) throws -> ServerReadyLine {
        let line = try waitForLine(timeout: timeout) { ServerReadyLine($0) != nil }
        guard let ready = ServerReadyLine(line) else {
            throw TrustctlProcessError("unparsable ready line: \(line)")
        }
        return ready
    }

    func sendSignal(_ signal: Int32) {
        child.sendSignal(signal)
    }

    /// The exit code (128 + N if killed by signal N); throws, after killing
    /// the child, if it is still running after `timeout` seconds.
    func waitForExit(timeout: Double = 30) throws -> Int32 {
        if let status = child.waitForExit(timeout: timeout) {
            child.stdout.waitForEndOfFile(timeout: 10)
            child.stderr.waitForEndOfFile(timeout: 10)
            return status
        }
        child.killIfRunning()
        throw TrustctlProcessError(
            "pid \(pid) still running \(timeout)s after it was asked to exit; killed. stderr: \(stderr)")
    }

    var isRunning: Bool { child.isRunning }

    /// SIGKILL if still running; safe to call more than once.
    func kill() {
        child.killIfRunning()
        _ = child.waitForExit(timeout: 10)
    }
}

/// A spawned child with its output collectors and a termination latch.
private final class LaunchedChild: Sendable {
    let pid: Int32
    let stdout: OutputCollector
    let stderr: OutputCollector
    private let termination: TerminationLatch
    // Kept alive for the child's lifetime so its termination handler fires.
    private let process: Process

    init(arguments: [String], environment: [String: String], stdin: Data?, launcher: [String] = []) throws {
        let process = Process()
        let binary = try TrustctlProcess.binaryURL()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.environment = environment
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe: Pipe?
        if stdin != nil {
            inPipe = Pipe()
            process.standardInput = inPipe
        } else {
            inPipe = nil
            process.standardInput = FileHandle.nullDevice
        }
        let termination = TerminationLatch()
        process.terminationHandler = { finished in
            let status =
                finished.terminationReason == .uncaughtSignal
                ? 128 + finished.terminationStatus : finished.terminationStatus
            termination.finish(status: status)
        }
        try process.run()
        self.process = process
        self.pid = process.processIdentifier
        self.termination = termination
        self.stdout = OutputCollector(reading: outPipe.fileHandleForReading, name: "stdout")
        self.stderr = OutputCollector(reading: errPipe.fileHandleForReading, name: "stderr")
        if let inPipe, let stdin {
            // A writer thread, so a child that prints before reading cannot deadlock us.
            let writer = inPipe.fileHandleForWriting
            Thread.detachNewThread {
                writeAllIgnoringBrokenPipe(stdin, to: writer.fileDescriptor)
                try? writer.close()
            }
        }
    }

    var isRunning: Bool { termination.status == nil }

    /// The exit status, or nil if the child still runs after `timeout` seconds.
    func waitForExit(timeout: Double) -> Int32? { termination.wait(timeout: timeout) }

    func sendSignal(_ signal: Int32) {
        // Only while it has not been reaped, so the PID cannot be a recycled one.
        if isRunning { _ = Glibc.kill(pid, signal) }
    }

    func killIfRunning() { sendSignal(SIGKILL) }
}

/// Writes `data` until done or the reader is gone. A child that exits
/// without reading its stdin must not kill the test runner: SIGPIPE is
/// blocked in this (short-lived, writer-only) thread, so `write` returns
/// EPIPE instead, and the mask is not inherited by any child since this
/// thread spawns none.
private func writeAllIgnoringBrokenPipe(_ data: Data, to descriptor: Int32) {
    var blocked = sigset_t()
    sigemptyset(&blocked)
    sigaddset(&blocked, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &blocked, nil)
    let bytes = [UInt8](data)
    var offset = 0
    // Bounded: each pass moves at least one byte or ends the loop.
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}

/// Set once by the Process termination handler; waited on with a deadline.
private final class TerminationLatch: @unchecked Sendable {
    // @unchecked: every access to `exitStatus` is under `condition`.
    private let condition = NSCondition()
    private var exitStatus: Int32?

    var status: Int32? {
        condition.lock()
        defer { condition.unlock() }
        return exitStatus
    }

    func finish(status: Int32) {
        condition.lock()
        exitStatus = status
        condition.broadcast()
        condition.unlock()
    }

    func wait(timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while exitStatus == nil {
            if !condition.wait(until: deadline) { break }
        }
        return exitStatus
    }
}

/// Drains one pipe on its own thread into a buffer others can wait on.
private final class OutputCollector: @unchecked Sendable {
    // @unchecked: `bytes` and `ended` are only touched under `condition`.
    private let condition = NSCondition()
    private var bytes = Data()
    private var ended = false

    init(reading handle: FileHandle, name: String) {
        let descriptor = handle.fileDescriptor
        let thread = Thread { [self] in
            // Bounded by the pipe: ends at EOF (the child and its heirs closed it) or on error.
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(descriptor, &chunk, chunk.count)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                append(chunk[0..<count])
            }
            markEnded()
            try? handle.close()
        }
        thread.name = "trustctl-test-\(name)"
        thread.start()
    }

    var text: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func append(_ chunk: ArraySlice<UInt8>) {
        condition.lock()
        bytes.append(contentsOf: chunk)
        condition.broadcast()
        condition.unlock()
    }

    private func markEnded() {
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    func waitForEndOfFile(timeout: Double) {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !ended {
            if !condition.wait(until: deadline) { break }
        }
    }

    /// The first complete line matching `predicate`, waiting for more output
    /// until `timeout`; nil on timeout or end of output without a match.
    func waitForLine(timeout: Double, matching predicate: (String) -> Bool) -> String? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let complete = String(decoding: bytes, as: UTF8.self).split(
                separator: "\n", omittingEmptySubsequences: false
            ).dropLast()
            if let line = complete.first(where: { predicate(String($0)) }) { return String(line) }
            if ended { return nil }
            if !condition.wait(until: deadline) { return nil }
        }
    }
}

extension Array where Element == Substring {
    fileprivate func dropLastIfEmpty() -> [String] {
        var lines = map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}

import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A third-party program run by a test (openssl, socat, python3): bounded,
/// its output collected in files (no pipe to fill up), killed by its PID if
/// it outlives the timeout.
struct ExternalToolResult {
    let status: Int32
    let stdout: Data
    let stderr: String
    let timedOut: Bool
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

final class ExternalTool {
    let process = Process()
    private let directory: URL
    private let outURL: URL
    private let errURL: URL

    /// Starts `path ARGS` with `stdin` (nil: /dev/null).
    init(_ path: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        outURL = directory.appendingPathComponent("out")
        errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        if let stdin {
            let inURL = directory.appendingPathComponent("in")
            try stdin.write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// What it has written to stdout so far.
    var output: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }

    /// Waits at most `timeout` seconds; a process still running then is killed (by PID).
    func finish(timeout: Double) -> ExternalToolResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        let timedOut = process.isRunning
        if timedOut {
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        let out = (try? Data(contentsOf: outURL)) ?? Data()
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: directory)
        return ExternalToolResult(status: process.terminationStatus, stdout: out, stderr: err, timedOut: timedOut)
    }

    /// Runs to completion (bounded).
    static func run(
        _ path: String, _ arguments: [String], stdin: Data? = nil, timeout: Double = 20,
        environment: [String: String]? = nil
    ) throws -> ExternalToolResult {
        try ExternalTool(path, arguments, stdin: stdin, environment: environment).finish(timeout: timeout)
    }
}

extension XCTestCase {
    /// A free loopback port now (for a third-party server that needs one named).
    func freeLoopbackPort() -> UInt16 {
        let probe = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, nil)
        defer { _ = cnet_close(probe) }
        return UInt16(cnet_local_port(probe))
    }
}

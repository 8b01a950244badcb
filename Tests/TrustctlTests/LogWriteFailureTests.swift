import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9 item 7: log trouble is visible and never corrupts the log. With
/// the log's file system full, or the file at the size limit, the real
/// server keeps serving, says so on stderr once, loses whole lines only and
/// counts them; once there is room again the log says how many were lost.
final class LogWriteFailureTests: XCTestCase {
    static let failureLine = try! NSRegularExpression(
        pattern: #"^log write failed: ([A-Z0-9]+) \(([^)]+)\) on (.+); dropping lines \(([0-9]+) so far\)$"#)

    /// The `log write failed` lines on stderr, as (errno name, message, path, count).
    private func failureLines(_ stderr: String) -> [(errno: String, message: String, path: String, count: Int)] {
        stderr.split(separator: "\n").compactMap { line in
            let text = String(line)
            guard let match = Self.failureLine.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
            else { return nil }
            let group = { (index: Int) in String(text[Range(match.range(at: index), in: text)!]) }
            return (group(1), group(2), group(3), Int(group(4)) ?? -1)
        }
    }

    /// The file must be JSON lines to the last byte: no torn line anywhere,
    /// none at the end. Returns the parsed lines.
    @discardableResult
    private func assertValidJSONLines(
        _ path: String, file: StaticString = #filePath, line: UInt = #line
    ) throws -> [LogEntry] {
        // The writer may be inside a write (or between a short write and the
        // truncate that takes it back) as we read: wait, bounded, until the
        // file ends on a line end, then every line must be whole.
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = waitUntil(timeout: 5) {
            data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? data
            return data.last == UInt8(ascii: "\n")
        }
        XCTAssertFalse(data.isEmpty, "empty log", file: file, line: line)
        XCTAssertEqual(data.last, UInt8(ascii: "\n"), "the log ends inside a line", file: file, line: line)
        var entries: [LogEntry] = []
        for text in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                XCTFail("not a JSON object: \(text.debugDescription)", file: file, line: line)
                continue
            }
            entries.append(LogEntry(fields: object, text: String(text)))
        }
        return entries
    }

    /// `count` raw echoes on fresh connections; each must come back whole.
    private func echo(on server: EchoServerUnderTest, connections count: Int, tag: String) throws {
        for index in 0..<count {
            let client = try server.connect()
            try client.echoRaw(Array("\(tag) \(index)\n".utf8))
            client.close()
        }
    }

    func testAFullFileSystemLosesWholeLinesSaysSoOnceAndTheLogRecovers() throws {
        let environment = try makeTrustctlEnvironment()
        try FileManager.default.createDirectory(at: environment.trustHome, withIntermediateDirectories: true)
        let tmpfs = try PrivateTmpfs(mountedAt: environment.trustHome.path, size: "64k", test: self)
        let server = try startEchoServer(["--mode", "raw"], environment: environment, launcher: tmpfs.launcher)
        let logPath = environment.trustHome.appendingPathComponent("logs/trustctl.log").path
        let log = ServerLog(file: URL(fileURLWithPath: tmpfs.outside(logPath)))
        XCTAssertNotNil(log.waitForEntry(event: "server_started"))

        let filler = tmpfs.outside(environment.trustHome.appendingPathComponent("filler").path)
        try PrivateTmpfs.fill(filler)
        // About 400 bytes of log per connection: far more than the room left
        // in the log's last page, so some write stops inside a line.
        try echo(on: server, connections: 40, tag: "while full")
        XCTAssertTrue(
            waitUntil { !failureLines(server.process.stderr).isEmpty }, "no stderr line: \(server.process.stderr)")
        try echo(on: server, connections: 20, tag: "still full")
        try assertValidJSONLines(tmpfs.outside(logPath))

        XCTAssertEqual(unlink(filler), 0)
        try echo(on: server, connections: 3, tag: "room again")
        let report = log.waitForEntry(event: "log_lines_dropped")
        XCTAssertEqual(report?.string("errno"), "ENOSPC")
        XCTAssertGreaterThan(report?.integer("write_failed") ?? 0, 0, "\(String(describing: report))")
        XCTAssertTrue(
            waitUntil { server.process.stderr.contains("log writes resumed on \(logPath); ") },
            "no recovery line: \(server.process.stderr)")
        XCTAssertEqual(try server.stop(), 0)

        let entries = try assertValidJSONLines(tmpfs.outside(logPath))
        let dropped = entries.filter { $0.event == "log_lines_dropped" }.compactMap { $0.integer("count") }
        let stopped = try XCTUnwrap(entries.first { $0.event == "server_stopped" }, "no server_stopped line")
        XCTAssertEqual(stopped.integer("log_lines_dropped"), dropped.reduce(0, +), "every loss reported once")
        XCTAssertGreaterThan(stopped.integer("log_lines_dropped") ?? 0, 0)
        let reportIndex = try XCTUnwrap(entries.lastIndex { $0.event == "log_lines_dropped" })
        let closedAfterReport = entries[reportIndex...].filter { $0.event == "connection_closed" }.count
        XCTAssertGreaterThanOrEqual(closedAfterReport, 3, "the lines after the space came back are in the log")

        let failures = failureLines(server.process.stderr)
        XCTAssertEqual(failures.count, 1, "at most one line a minute: \(server.process.stderr)")
        XCTAssertEqual(failures.first?.errno, "ENOSPC")
        XCTAssertEqual(failures.first?.message, "No space left on device")
        XCTAssertEqual(failures.first?.path, logPath)
        XCTAssertGreaterThan(failures.first?.count ?? 0, 0)
    }

    func testTheFileSizeLimitIsAWriteErrorNotADeath() throws {
        // Without SIGXFSZ ignored, the first write past the limit kills the server.
        let server = try startEchoServer(["--mode", "raw"], launcher: ["/usr/bin/prlimit", "--fsize=4096", "--"])
        try echo(on: server, connections: 40, tag: "past the limit")
        XCTAssertTrue(
            waitUntil { !failureLines(server.process.stderr).isEmpty }, "no stderr line: \(server.process.stderr)")
        try echo(on: server, connections: 5, tag: "still serving")
        XCTAssertEqual(try server.stop(), 0)

        let entries = try assertValidJSONLines(server.log.file.path)
        XCTAssertEqual(entries.first?.event, "server_started")
        let size = try XCTUnwrap(
            FileManager.default.attributesOfItem(atPath: server.log.file.path)[.size] as? Int)
        XCTAssertLessThanOrEqual(size, 4096)
        let failures = failureLines(server.process.stderr)
        XCTAssertEqual(failures.count, 1, "\(server.process.stderr)")
        XCTAssertEqual(failures.first?.errno, "EFBIG")
        XCTAssertEqual(failures.first?.message, "File too large")
        XCTAssertEqual(failures.first?.path, server.log.file.path)
    }
}

/// A tmpfs of a given size mounted at a path in a private mount namespace
/// (a user namespace too, so no root is needed), held open by a keeper
/// process: programs run inside it through `launcher`; the test reaches
/// its files through `/proc/KEEPER/root`. Nothing is mounted outside; the
/// mount goes away with the keeper, which the test kills at teardown.
final class PrivateTmpfs {
    private let keeper: Process
    let mountPoint: String

    init(mountedAt mountPoint: String, size: String, test: XCTestCase) throws {
        self.mountPoint = mountPoint
        let keeper = Process()
        keeper.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        keeper.arguments = [
            "--user", "--map-root-user", "--mount", "--propagation", "private", "/bin/sh", "-c",
            // Bounded: the keeper ends by itself if the test never kills it.
            #"mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$0" && exec sleep 300"#, mountPoint, size,
        ]
        keeper.standardInput = FileHandle.nullDevice
        keeper.standardOutput = FileHandle.nullDevice
        try keeper.run()
        self.keeper = keeper
        test.addTeardownBlock {
            kill(keeper.processIdentifier, SIGKILL)
            keeper.waitUntilExit()
        }
        let mounted = waitUntil {
            let table = (try? String(contentsOfFile: "/proc/\(keeper.processIdentifier)/mountinfo", encoding: .utf8))
            return table?.contains(" \(mountPoint) ") == true && table?.contains(" - tmpfs ") == true
        }
        guard mounted, keeper.isRunning else {
            throw TrustctlProcessError("no private tmpfs at \(mountPoint) (unshare exited: \(!keeper.isRunning))")
        }
    }

    /// Runs a program inside the namespace; it execs in place, so the PID
    /// is the program's.
    var launcher: [String] {
        ["/usr/bin/nsenter", "--target", String(keeper.processIdentifier), "--user", "--mount", "--"]
    }

    /// `path` (inside the namespace) as the test reaches it.
    func outside(_ path: String) -> String {
        "/proc/\(keeper.processIdentifier)/root" + path
    }

    /// Writes zeros to a new file at `path` until the file system is full.
    static func fill(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TrustctlProcessError("open \(path): errno \(errno)") }
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        // Bounded by the file system's size.
        while true {
            let written = write(descriptor, chunk, chunk.count)
            if written > 0 { continue }
            if written < 0 && errno == EINTR { continue }
            guard written < 0 && errno == ENOSPC else {
                throw TrustctlProcessError("filling \(path): write returned \(written), errno \(errno)")
            }
            return
        }
    }
}

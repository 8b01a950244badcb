import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9 item 3, the log part: a FIFO, device, socket or directory in
/// place of `$TRUST_HOME/logs/trustctl.log` is refused at start with exit 73
/// naming the path, at once (never waiting for a FIFO's reader); a SIGHUP
/// reopen onto one keeps the old file and says why in it.
final class LogFileTypeTests: XCTestCase {
    /// A fresh environment whose `logs` directory exists, and the log path.
    private func environmentWithLogsDirectory() throws -> (TrustctlTestEnvironment, String) {
        let environment = try makeTrustctlEnvironment()
        let logs = environment.trustHome.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        return (environment, logs.appendingPathComponent("trustctl.log").path)
    }

    private func assertServerRefusesLog(
        _ environment: TrustctlTestEnvironment, path: String, as phrase: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        // A hang here is the bug: the harness kills the server after 10 s and fails.
        let result = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--host", "127.0.0.1"], environment: environment.variables, timeout: 10,
            file: file, line: line)
        assertOneLineFailure(
            result, exitCode: 73, containing: ["cannot open log file \(path): it is \(phrase), not a regular file"],
            file: file, line: line)
        XCTAssertFalse(
            result.stdout.contains("listening on"), "started anyway: \(result.stdout)", file: file, line: line)
    }

    func testAFIFOWithoutAReaderIsRefusedAtOnce() throws {
        let (environment, path) = try environmentWithLogsDirectory()
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        try assertServerRefusesLog(environment, path: path, as: "a FIFO")
    }

    func testAFIFOWithAReaderIsRefusedToo() throws {
        let (environment, path) = try environmentWithLogsDirectory()
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        // With a reader the open succeeds; the file type still says no.
        let reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        try assertServerRefusesLog(environment, path: path, as: "a FIFO")
    }

    func testANullDeviceIsRefusedAsANodeOrThroughALink() throws {
        let (environment, path) = try environmentWithLogsDirectory()
        XCTAssertEqual(symlink("/dev/null", path), 0)
        try assertServerRefusesLog(environment, path: path, as: "a character device")

        // The same device as a node of its own (mknod needs CAP_MKNOD; in a
        // container without it, the link above is the case that remains).
        XCTAssertEqual(unlink(path), 0)
        let nullDevice: dev_t = (1 << 8) | 3  // major 1, minor 3: /dev/null
        if mknod(path, S_IFCHR | 0o600, nullDevice) == 0 {
            try assertServerRefusesLog(environment, path: path, as: "a character device")
        }
    }

    func testADirectoryIsRefused() throws {
        let (environment, path) = try environmentWithLogsDirectory()
        XCTAssertEqual(mkdir(path, 0o700), 0)
        try assertServerRefusesLog(environment, path: path, as: "a directory")
    }

    func testAUnixSocketIsRefused() throws {
        let (environment, path) = try environmentWithLogsDirectory()
        let listener = try bindUnixSocket(at: path)
        defer { close(listener) }
        try assertServerRefusesLog(environment, path: path, as: "a socket")
    }

    func testASymlinkToARegularFileIsFollowed() throws {
        let (environment, path) = try environmentWithLogsDirectory()
        let target = environment.directory.appendingPathComponent("elsewhere.log")
        XCTAssertEqual(symlink(target.path, path), 0)
        let server = try startEchoServer(environment: environment)
        XCTAssertEqual(try server.stop(), 0)
        let entries = ServerLog(file: target).entries()
        XCTAssertEqual(entries.first?.event, "server_started")
        XCTAssertEqual(entries.last?.event, "server_stopped")
    }

    func testSighupOntoAFIFOKeepsTheOldFileAndTheServerStillStops() throws {
        let server = try startEchoServer(["--mode", "raw"])
        XCTAssertNotNil(server.log.waitForEntry(event: "server_started"))
        let path = server.log.file.path
        let rotated = ServerLog(file: URL(fileURLWithPath: path + ".1"))
        XCTAssertEqual(rename(path, rotated.file.path), 0)
        XCTAssertEqual(mkfifo(path, 0o600), 0)

        server.process.sendSignal(SIGHUP)
        // A writer that opened the FIFO blocking would wait forever, and so
        // would the server's stop, which waits for the writer.
        let failure = rotated.waitForEntry(event: "log_reopen_failed")
        XCTAssertEqual(failure?.string("file_type"), "fifo", "\(rotated.lines())")
        XCTAssertEqual(failure?.string("path"), path)
        let client = try server.connect()
        try client.echoRaw(Array("still logged in the old file\n".utf8))
        client.close()
        XCTAssertNotNil(rotated.waitForClose(ofClientPort: client.localPort))
        XCTAssertEqual(try server.stop(timeout: 15), 0)
        XCTAssertEqual(rotated.entries(event: "server_stopped").count, 1)
        var status = stat()
        XCTAssertEqual(stat(path, &status), 0)
        XCTAssertEqual(status.st_mode & S_IFMT, S_IFIFO, "the FIFO is left alone")
    }

    /// A listening AF_UNIX socket bound at `path`; the caller closes it.
    private func bindUnixSocket(at path: String) throws -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw TrustctlProcessError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TrustctlProcessError("socket: errno \(errno)") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            throw TrustctlProcessError("bind \(path): errno \(errno)")
        }
        return descriptor
    }
}

import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// config.json is strict JSON and a regular file (SPEC §5; issue 9 items 3, 6).
final class CLIConfigFileStrictnessTests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
        try FileManager.default.createDirectory(at: env.trustHome, withIntermediateDirectories: true)
    }

    /// `config show` and `echo-server` each exit 78 with one line naming the file.
    private func assertRejected(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        for arguments in [["config", "show"], ["echo-server", "--port", "0"]] {
            let result = try TrustctlProcess.run(
                arguments, environment: env.variables, timeout: 10, file: file, line: line)
            assertOneLineFailure(
                result, exitCode: 78, containing: [env.configFile.path] + fragments, file: file, line: line)
            XCTAssertEqual(result.stdout, "", file: file, line: line)
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        try Data(bytes).write(to: env.configFile)
    }

    func testDuplicateKeyIsRejected() throws {
        try env.writeConfig(#"{"port": 1111, "mode": "raw", "port": 2222}"#)
        try assertRejected(["duplicate key 'port'", "line 1, column 31"])
    }

    func testTrailingCommaIsRejected() throws {
        try env.writeConfig("{\"port\": 1111,\n}")
        try assertRejected(["trailing comma", "line 2"])
    }

    func testByteOrderMarkIsRejected() throws {
        try write([0xEF, 0xBB, 0xBF] + Array(#"{"port": 1111}"#.utf8))
        try assertRejected(["byte-order mark"])
    }

    func testStringForANumberAndNumberForAStringAreRejected() throws {
        try env.writeConfig(#"{"workers": "2"}"#)
        try assertRejected(["workers (from file", "expected a JSON number", "got a string"])
        try env.writeConfig(#"{"host": 5}"#)
        try assertRejected(["host (from file", "expected a JSON string", "got a number"])
    }

    func testNonJSONNumbersAreRejected() throws {
        for text in [#"{"timeout": NaN}"#, #"{"timeout": Infinity}"#, #"{"timeout": -Infinity}"#, #"{"port": 0x10}"#] {
            try env.writeConfig(text)
            try assertRejected(["malformed config file"])
        }
    }

    func testInvalidUTF8AndControlCharactersAreRejected() throws {
        try write(Array(#"{"host": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        try assertRejected(["invalid UTF-8"])
        try write(Array(#"{"host": "a"#.utf8) + [0x0A] + Array(#"b"}"#.utf8))
        try assertRejected(["control character"])
    }

    func testDanglingSymlinkIsAnErrorNotAMissingFile() throws {
        try FileManager.default.createSymbolicLink(
            atPath: env.configFile.path, withDestinationPath: env.directory.appendingPathComponent("gone.json").path)
        try assertRejected(["symbolic link to a missing file"])
    }

    /// A FIFO nobody writes to: reading it would block forever (the old
    /// behaviour, with SIGINT/SIGTERM already blocked in the server).
    func testFIFOIsRejectedWithoutHanging() throws {
        XCTAssertEqual(mkfifo(env.configFile.path, 0o600), 0)
        try assertRejected(["it is a FIFO, not a regular file"])
    }

    func testDeviceBehindSymlinkIsRejected() throws {
        try FileManager.default.createSymbolicLink(atPath: env.configFile.path, withDestinationPath: "/dev/zero")
        try assertRejected(["it is a character device, not a regular file"])
    }

    func testDirectoryIsRejected() throws {
        try FileManager.default.createDirectory(at: env.configFile, withIntermediateDirectories: false)
        try assertRejected(["it is a directory, not a regular file"])
    }

    func testUnixSocketIsRejected() throws {
        let fd = try UnixSocketFile.bind(path: env.configFile.path)
        defer { close(fd) }
        try assertRejected(["it is a socket, not a regular file"])
    }

    func testValidStrictFileIsStillRead() throws {
        try env.writeConfig("{\n\t\"port\": 9900,\r\n \"host\": \"\\u003a\\u003a1\", \"timeout\": 2.5e1 }\n")
        let rows = parseConfigShow(try TrustctlProcess.run(["config", "show"], environment: env.variables))
        XCTAssertEqual(rows["port"]?.value, "9900")
        XCTAssertEqual(rows["host"]?.value, "::1")
        XCTAssertEqual(rows["timeout"]?.value, "25")
    }
}

/// A listening AF_UNIX socket at a path, to stand where a file is expected.
enum UnixSocketFile {
    static func bind(path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TrustctlProcessError("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw TrustctlProcessError("socket path too long: \(path)")
        }
        copyPath(bytes, into: &address)
        let result = bindAddress(fd, &address)
        guard result == 0 else {
            close(fd)
            throw TrustctlProcessError("bind \(path): errno \(errno)")
        }
        return fd
    }

    /// `sun_path` is a fixed C array inside the struct: writing fewer bytes
    /// than its size (checked by the caller) stays inside it, and the
    /// zeroed struct keeps the path NUL-terminated.
    private static func copyPath(_ bytes: [UInt8], into address: inout sockaddr_un) {
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
    }

    /// bind(2) takes a generic sockaddr; the sockaddr_un outlives the call.
    private static func bindAddress(_ fd: Int32, _ address: inout sockaddr_un) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}

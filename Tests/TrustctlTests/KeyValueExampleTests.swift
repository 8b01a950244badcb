import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The foundation proof of SPEC §17: `examples/kv-server`, a framed
/// key-value server in under 100 lines on the service core, inherits the
/// core's limits, timeouts, drain, logs and settings. Built from its own
/// package (a path dependency on this one) and run as a real process.
final class KeyValueExampleTests: XCTestCase {
    enum Op: UInt8 {
        case get = 1
        case put = 2
        case delete = 3
    }

    /// Builds the example once per test process (SwiftPM's lock orders
    /// parallel builds), then returns its binary.
    static let binary = Mutex<String?>(nil)

    func kvServerBinary() throws -> String {
        try KeyValueExampleTests.binary.withLock { cached in
            if let cached { return cached }
            let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples/kv-server").path
            // `make test` builds it first. Under a bare `swift test --parallel`
            // several test processes may build it at once, and SwiftPM keeps a
            // stale plan of a path dependency whose files moved: retry once
            // after a clean.
            func swift(_ arguments: [String]) throws -> Int32 {
                let step = Process()
                step.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                step.arguments = ["swift"] + arguments + ["--package-path", package]
                try step.run()
                step.waitUntilExit()
                return step.terminationStatus
            }
            var status = try swift(["build"])
            if status != 0 {
                _ = try swift(["package", "clean"])
                status = try swift(["build"])
            }
            guard status == 0 else { throw TestSocketError("building examples/kv-server failed (exit \(status))") }
            let path = package + "/.build/debug/kv-server"
            cached = path
            return path
        }
    }

    func startKeyValueServer(_ options: [String] = []) throws -> EchoServerUnderTest {
        let environment = try makeTrustctlEnvironment()
        let binary = try kvServerBinary()
        // The harness starts programs through a launcher that execs in place:
        // run the example instead of trustctl, with the same arguments.
        let process = try startTrustctl(
            ["--port", "0", "--host", "127.0.0.1"] + options, environment: environment.variables,
            launcher: ["/bin/sh", "-c", "exec \"\(binary)\" \"$@\""])
        let ready = try process.waitForReady(timeout: 30)
        XCTAssertEqual(ready.mode, "kv")
        return EchoServerUnderTest(process: process, ready: ready, environment: environment)
    }

    func request(_ socket: TestSocket, _ op: Op, key: [UInt8], value: [UInt8] = []) throws -> [UInt8] {
        let payload = [op.rawValue, UInt8(key.count >> 8), UInt8(key.count & 0xFF)] + key + value
        try socket.send(TestFrame.encode(payload))
        let header = try socket.receive(exactly: 4)
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return try socket.receive(exactly: length)
    }

    func testPutGetDeleteAndMissingKeyWithBinaryKeysAndValues() throws {
        let server = try startKeyValueServer()
        let client = try server.connect()
        let key: [UInt8] = [0, 1, 0xFF, 0x0A]
        let value = Array(0...255).map(UInt8.init)
        XCTAssertEqual(try request(client, .get, key: key), [1], "missing key: NOT_FOUND")
        XCTAssertEqual(try request(client, .put, key: key, value: value), [0])
        XCTAssertEqual(try request(client, .get, key: key), [0] + value)
        // Another connection (maybe another worker) sees the same store.
        let other = try server.connect()
        XCTAssertEqual(try request(other, .get, key: key), [0] + value)
        XCTAssertEqual(try request(other, .delete, key: key), [0])
        XCTAssertEqual(try request(client, .get, key: key), [1])
        XCTAssertEqual(try request(client, .delete, key: key), [1], "deleting a missing key: NOT_FOUND")
        XCTAssertEqual(try request(client, .put, key: [], value: []), [0], "empty key and value are allowed")
        XCTAssertEqual(try request(client, .get, key: []), [0])
        // Two requests in one write get two responses, in order.
        let pipelined =
            TestFrame.encode([Op.put.rawValue, 0, 1, 0x41, 0x42]) + TestFrame.encode([Op.get.rawValue, 0, 1, 0x41])
        try client.send(pipelined)
        XCTAssertEqual(try client.receive(exactly: 5), [0, 0, 0, 1, 0])
        XCTAssertEqual(try client.receive(exactly: 6), [0, 0, 0, 2, 0, 0x42])
        XCTAssertEqual(try request(client, .get, key: [1, 2, 3], value: [9]), [2], "GET with a value: BAD_REQUEST")
        XCTAssertEqual(try stopAndWait(server), 0)
    }

    /// The core reads the PROXY header: the example gets it without a line of its own.
    func testProxyHeaderIsReadByTheCoreBeforeTheHandler() throws {
        let server = try startKeyValueServer(["--proxy-protocol", "v1"])
        let client = try server.connect()
        try client.send(Array("PROXY TCP4 198.51.100.20 192.0.2.1 6000 9900\r\n".utf8))
        XCTAssertEqual(try request(client, .put, key: [1], value: [2]), [0])
        XCTAssertEqual(try request(client, .get, key: [1]), [0, 2])
        client.close()
        let closed = try XCTUnwrap(
            server.log.waitForEntry { $0.event == "connection_closed" && $0.peer == "198.51.100.20:6000" })
        XCTAssertEqual(closed.string("proxied_by"), "127.0.0.1:\(client.localPort)")
        XCTAssertEqual(try stopAndWait(server), 0)
    }

    func testOversizeFrameClosesOnlyThatConnection() throws {
        let server = try startKeyValueServer(["--max-frame", "64"])
        let good = try server.connect()
        XCTAssertEqual(try request(good, .put, key: [7], value: [8]), [0])
        let bad = try server.connect()
        try bad.send(TestFrame.header(65))
        XCTAssertEqual(try bad.receiveToEnd(), [], "nothing answered, connection closed")
        let closed = server.log.waitForEntry { $0.event == "connection_closed" && $0.reason == "frame_too_large" }
        XCTAssertNotNil(closed, "logged as frame_too_large by the core")
        XCTAssertEqual(try request(good, .get, key: [7]), [0, 8], "the other client is unaffected")
        XCTAssertEqual(try stopAndWait(server), 0)
    }

    func testIdleTimeoutComesFromTheCore() throws {
        let server = try startKeyValueServer(["--timeout", "0.5"])
        let idle = try server.connect()
        XCTAssertEqual(try idle.receiveToEnd(), [], "closed by the server after the idle timeout")
        XCTAssertNotNil(server.log.waitForEntry { $0.event == "connection_closed" && $0.reason == "idle_timeout" })
        XCTAssertEqual(try stopAndWait(server), 0)
    }

    func testHundredConcurrentClientsAndDrainWithRequestsInFlight() throws {
        let server = try startKeyValueServer(["--workers", "2"])
        let clients = try (0..<100).map { _ in try server.connect() }
        for (index, client) in clients.enumerated() {
            XCTAssertEqual(try request(client, .put, key: Array("key-\(index)".utf8), value: [UInt8(index)]), [0])
        }
        // Every client sends a GET, then SIGTERM before anyone reads: the
        // drain answers what was received, then closes.
        for (index, client) in clients.enumerated() {
            try client.send(
                TestFrame.encode([Op.get.rawValue, 0, UInt8("key-\(index)".utf8.count)] + Array("key-\(index)".utf8)))
        }
        server.process.sendSignal(SIGTERM)
        for (index, client) in clients.enumerated() {
            let response = try client.receiveToEnd()
            XCTAssertEqual(response, [0, 0, 0, 2, 0, UInt8(index)], "client \(index) got its answer before the close")
        }
        XCTAssertEqual(try server.process.waitForExit(timeout: 30), 0)
        let stopped = try XCTUnwrap(server.log.entries(event: "server_stopped").last)
        XCTAssertEqual(stopped.integer("frames"), 200, "100 PUTs and 100 GETs answered")
    }

    private func stopAndWait(_ server: EchoServerUnderTest) throws -> Int32 { try server.stop() }
}

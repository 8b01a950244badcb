import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Startup, binding and addresses (SPEC §6 "Startup", §11).
final class EchoServerStartupTests: XCTestCase {
    func testListensAndPrintsReadyLine() throws {
        let server = try startEchoServer(["--mode", "framed", "--workers", "3"])
        XCTAssertEqual(server.ready, ServerReadyLine(host: "127.0.0.1", port: server.port, mode: "framed", workers: 3))
        XCTAssertEqual(server.process.stdout, "listening on 127.0.0.1:\(server.port) (mode framed, 3 workers)\n")
        let client = try server.connect()
        try client.echoFrame(Array("ready".utf8))
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        XCTAssertEqual(started.integer("port"), Int(server.port))
        XCTAssertEqual(started.string("mode"), "framed")
    }

    func testDefaultModeIsAuto() throws {
        let server = try startEchoServer()
        XCTAssertEqual(server.ready.mode, "auto")
        XCTAssertGreaterThanOrEqual(server.ready.workers, 1)
    }

    func testAddressInUseExitsSixtyNineWithOneLine() throws {
        let first = try startEchoServer()
        let env = try makeTrustctlEnvironment()
        let second = try TrustctlProcess.run(
            ["echo-server", "--port", String(first.port), "--host", "127.0.0.1"], environment: env.variables,
            timeout: 30)
        assertOneLineFailure(second, exitCode: 69, containing: [String(first.port)])
        XCTAssertTrue(second.stdout.isEmpty, "no ready line for a failed bind: \(second.stdout)")
        // The first server is unaffected.
        try first.connect().echoRaw(Array("still here\n".utf8))
    }

    func testImmediateRestartOnSamePort() throws {
        let env = try makeTrustctlEnvironment()
        let first = try startEchoServer(environment: env)
        let port = first.port
        // A connection the server closes itself (on shutdown) leaves the
        // server side in TIME_WAIT: the case SO_REUSEADDR is for.
        let client = try first.connect()
        try client.echoRaw(Array("before restart\n".utf8))
        first.process.sendSignal(SIGTERM)
        XCTAssertEqual(client.receiveOnce(), 0, "the server closes the connection on shutdown")
        XCTAssertEqual(try first.process.waitForExit(timeout: 30), 0)

        let second = try startEchoServer(port: port, environment: env)
        XCTAssertEqual(second.port, port)
        try second.connect().echoRaw(Array("after restart\n".utf8))
    }

    func testIPv6Loopback() throws {
        let server = try startEchoServer(host: "::1")
        XCTAssertEqual(server.ready.host, "::1")
        XCTAssertTrue(server.process.stdout.contains("[::1]:\(server.port)"), server.process.stdout)
        let client = try server.connect(host: "::1")
        try client.echoRaw(Array("over IPv6\n".utf8))
        try client.echoFrame([1, 2, 3])  // auto mode decided raw: a frame is echoed as bytes
        let accepted = try XCTUnwrap(server.log.waitForEntry(event: "connection_accepted"))
        XCTAssertEqual(accepted.peer, "[::1]:\(client.localPort)")
    }

    func testIPv6WildcardAcceptsIPv4Client() throws {
        let server = try startEchoServer(host: "::")
        try server.connect(host: "::1").echoRaw(Array("v6\n".utf8))
        let v4 = try server.connect(host: "127.0.0.1")
        try v4.echoRaw(Array("v4 on a dual-stack socket\n".utf8))
        let accepted = try XCTUnwrap(
            server.log.waitForEntry { $0.event == "connection_accepted" && $0.isPeer(port: v4.localPort) })
        XCTAssertTrue(accepted.peer?.contains("127.0.0.1") ?? false, "peer: \(accepted)")
    }
}

import CNetShim
import Foundation
import XCTest

/// Black-box tests of `trustctl echo-client` against the real server.
final class EchoClientCLITests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
    }

    /// A real echo server on 127.0.0.1, port picked by the kernel.
    private func startServer() throws -> UInt16 {
        let server = try startTrustctl(
            ["echo-server", "--port", "0", "--host", "127.0.0.1", "--workers", "1", "--timeout", "30"],
            environment: env.variables)
        return try server.waitForReadyLine()
    }

    private func client(_ arguments: [String]) throws -> TrustctlResult {
        try TrustctlProcess.run(["echo-client"] + arguments, environment: env.variables)
    }

    func testFramedMessagesArePrintedOneLineEach() throws {
        let port = try startServer()
        let result = try client(["localhost", "\(port)", "hello framed", "MSG_A", "MSG_B"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines, ["hello framed", "MSG_A", "MSG_B"])
        XCTAssertEqual(result.stderr, "")
    }

    func testCountAndRaw() throws {
        let port = try startServer()
        let counted = try client(["127.0.0.1", "\(port)", "x", "--count", "3"])
        XCTAssertEqual(counted.exitCode, 0, counted.stderr)
        XCTAssertEqual(counted.stdoutLines, ["x", "x", "x"])
        let raw = try client(["127.0.0.1", "\(port)", "--raw", "raw test", "line two"])
        XCTAssertEqual(raw.exitCode, 0, raw.stderr)
        XCTAssertEqual(raw.stdoutLines, ["raw test", "line two"])
        let payload = try client(["127.0.0.1", "\(port)", "--payload-size", "65536"])
        XCTAssertEqual(payload.exitCode, 0, payload.stderr)
        XCTAssertEqual(payload.stdoutLines, ["echoed 65536 bytes, verified"])
    }

    func testPayloadAboveMaxFrameExits74() throws {
        let port = try startServer()
        let result = try client(["localhost", "\(port)", "--payload-size", "70000"])
        assertOneLineFailure(result, exitCode: 74, containing: ["echo-client: server", "of 70004 echo bytes"])
        XCTAssertEqual(result.stdout, "")
    }

    func testRefusedExits69() throws {
        var port: UInt16 = 0
        let fd = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, &port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = cnet_close(fd)
        let result = try client(["127.0.0.1", "\(port)", "hello"])
        assertOneLineFailure(result, exitCode: 69, containing: ["echo-client: cannot connect to 127.0.0.1:\(port)"])
    }

    func testServerThatNeverAnswersExits75() throws {
        // A listener nobody accepts from: the kernel completes the connect,
        // the message is sent, and no echo ever comes.
        var port: UInt16 = 0
        let fd = cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { _ = cnet_close(fd) }
        let result = try client(["127.0.0.1", "\(port)", "hello", "--timeout", "0.3"])
        assertOneLineFailure(result, exitCode: 75, containing: ["timed out after 0.3 s"])
    }

    func testUsageErrorsExit64() throws {
        for arguments in [
            ["localhost", "9"],
            ["localhost", "0", "x"],
            ["localhost", "70000", "x"],
            ["localhost", "9", "x", "--count", "0"],
            ["localhost", "9", "x", "--timeout", "-1"],
            ["localhost", "9", "--payload-size", "-5"],
            ["localhost"],
        ] {
            let result = try client(arguments)
            assertOneLineFailure(result, exitCode: 64)
        }
    }

    func testHelpListsTheOptions() throws {
        let result = try client(["--help"])
        XCTAssertEqual(result.exitCode, 0)
        for flag in ["--payload-size", "--raw", "--timeout", "--count"] {
            XCTAssertTrue(result.stdout.contains(flag), "echo-client --help lacks \(flag)")
        }
    }
}

import CNetShim
import Foundation
import XCTest

/// Black-box test of the idle timeout when many connections expire at once:
/// the worker closes them in batches (`EchoWorker.expireBatch`, 64), so this
/// opens several batches' worth and checks that every one is closed, as
/// `idle_timeout`, with nothing echoed (a lone 0x00 is a held header byte).
final class IdleExpiryTests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
    }

    func testConnectionsThatFallSilentTogetherAreAllClosedAsIdle() throws {
        let count = 300
        let server = try startTrustctl(
            [
                "echo-server", "--port", "0", "--host", "127.0.0.1", "--workers", "1", "--mode", "framed",
                "--timeout", "1",
            ],
            environment: env.variables)
        let port = try server.waitForReadyLine()

        var descriptors: [Int32] = []
        defer { for fd in descriptors { _ = cnet_close(fd) } }
        for _ in 0..<count {
            let fd = cnet_tcp_connect_host("127.0.0.1", port, 5000, 0)
            XCTAssertGreaterThanOrEqual(fd, 0, "connect: \(fd)")
            guard fd >= 0 else { return }
            descriptors.append(fd)
            XCTAssertEqual(cnet_set_recv_timeout(fd, 20_000), 0)
            XCTAssertEqual(Self.sendHeaderByte(fd), 1)
        }

        // Each read blocks until the server closes (bounded by the 20 s receive
        // timeout): end of stream with no byte echoed.
        var closedSilently = 0
        for fd in descriptors where Self.readUntilClosed(fd) == 0 { closedSilently += 1 }
        XCTAssertEqual(closedSilently, count)

        server.sendSignal(SIGTERM)
        XCTAssertEqual(try server.waitForExit(), 0, server.stderr)
        let log = try String(contentsOf: env.trustHome.appendingPathComponent("logs/trustctl.log"), encoding: .utf8)
        let idleCloses = log.split(separator: "\n").filter {
            $0.contains("\"event\":\"connection_closed\"") && $0.contains("\"reason\":\"idle_timeout\"")
        }
        XCTAssertEqual(idleCloses.count, count)
    }

    /// Sends the first byte of a frame header (0x00): the server holds it.
    private static func sendHeaderByte(_ fd: Int32) -> Int {
        var zero: UInt8 = 0
        return cnet_send(fd, &zero, 1)
    }

    /// Bytes received before end of stream, or -1 on an error or timeout.
    private static func readUntilClosed(_ fd: Int32) -> Int {
        var buffer = [UInt8](repeating: 0, count: 64)
        var total = 0
        for _ in 0..<64 {
            let n = buffer.withUnsafeMutableBytes { cnet_recv(fd, $0.baseAddress, $0.count) }
            if n == 0 { return total }
            if n < 0 { return -1 }
            total += n
        }
        return -1
    }
}

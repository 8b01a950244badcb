import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-client --tls` against third-party TLS servers: `openssl s_server`
/// (its `-rev` mode echoes each line reversed, so palindromes come back as
/// sent) and socat's `OPENSSL-LISTEN` in front of a byte-for-byte echo.
final class TLSClientTests: TLSCertificateTestCase {
    /// `openssl s_server -rev` on a free port, accepting `count` connections;
    /// waits (bounded) until it accepts.
    private func startSServer(cert: String? = nil, count: Int = 1, extra: [String] = []) throws -> (
        ExternalTool, UInt16
    ) {
        let c = try certs()
        let port = freeLoopbackPort()
        let server = try ExternalTool(
            "/usr/bin/openssl",
            [
                "s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert ?? c.serverCert, "-key", c.serverKey,
                "-rev", "-naccept", String(count), "-quiet",
            ] + extra)
        addTeardownBlock {
            if server.process.isRunning { kill(server.pid, SIGKILL) }
        }
        XCTAssertTrue(
            waitUntil(timeout: 10) { (try? TestSocket(host: "127.0.0.1", port: port)).map { $0.close() } != nil })
        return (server, port)
    }

    private func client(_ arguments: [String]) throws -> TrustctlResult {
        try TrustctlProcess.run(["echo-client"] + arguments, environment: try makeTrustctlEnvironment().variables)
    }

    func testEchoThroughOpenSSLServer() throws {
        let c = try certs()
        // Probing for readiness used one accept: allow it plus the client's.
        let (_, port) = try startSServer(count: 2)
        let result = try client(
            [
                "127.0.0.1", String(port), "level", "racecar", "--raw", "--tls", "--tls-ca", c.caCert, "--sni",
                "localhost",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdout, "level\nracecar\n")
    }

    func testWrongCAAndExpiredCertificateAreUnavailable() throws {
        let c = try certs()
        let (_, port) = try startSServer(count: 2)
        let wrong = try client(["localhost", String(port), "abba", "--raw", "--tls", "--tls-ca", c.otherCACert])
        XCTAssertEqual(wrong.exitCode, 69)
        XCTAssertTrue(wrong.stderr.contains("TLS handshake with"), wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("unable to get local issuer certificate"), wrong.stderr)
        XCTAssertEqual(wrong.stderrLines.count, 1)

        let (_, expiredPort) = try startSServer(cert: c.expiredCert, count: 3)
        let expired = try client(["localhost", String(expiredPort), "abba", "--raw", "--tls", "--tls-ca", c.caCert])
        XCTAssertEqual(expired.exitCode, 69)
        XCTAssertTrue(expired.stderr.contains("certificate has expired"), expired.stderr)
        let insecure = try client(["localhost", String(expiredPort), "abba", "--raw", "--tls", "--insecure"])
        XCTAssertEqual(insecure.exitCode, 0, insecure.stderr)
        XCTAssertEqual(insecure.stdout, "abba\n")
    }

    func testServerNameIsCheckedAgainstTheCertificate() throws {
        let c = try certs()
        let (_, port) = try startSServer(count: 2)
        let result = try client(
            ["127.0.0.1", String(port), "abba", "--raw", "--tls", "--tls-ca", c.caCert, "--sni", "elsewhere.example"])
        XCTAssertEqual(result.exitCode, 69)
        XCTAssertTrue(result.stderr.contains("mismatch"), result.stderr)
    }

    func testSNIReachesOurServer() throws {
        let c = try certs()
        let server = try startEchoServer(["--mode", "framed", "--tls-cert", c.serverCert, "--tls-key", c.serverKey])
        let result = try client(
            [
                "127.0.0.1", String(server.port), "framed", "over", "tls", "--tls", "--tls-ca", c.caCert, "--sni",
                "localhost",
            ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdout, "framed\nover\ntls\n")
        let done = try XCTUnwrap(server.log.waitForEntry(event: "tls_handshake_completed"))
        XCTAssertEqual(done.string("sni"), "localhost")
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "peer_closed")
        XCTAssertEqual(closed.integer("frames"), 3)
    }

    func testFramedPayloadThroughSocatTLSEcho() throws {
        let c = try certs()
        let port = freeLoopbackPort()
        let socat = try ExternalTool(
            "/usr/bin/socat",
            [
                "OPENSSL-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(c.serverCert),key=\(c.serverKey),verify=0",
                "PIPE",
            ])
        addTeardownBlock { if socat.process.isRunning { kill(socat.pid, SIGKILL) } }
        XCTAssertTrue(
            waitUntil(timeout: 10) { (try? TestSocket(host: "127.0.0.1", port: port)).map { $0.close() } != nil })
        let result = try client(["localhost", String(port), "--payload-size", "200000", "--tls", "--tls-ca", c.caCert])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdout, "echoed 200000 bytes, verified\n")
    }

    func testTLSOptionsNeedTLSAndBadCAFileIsAUsageError() throws {
        let c = try certs()
        let alone = try client(["localhost", "9", "x", "--tls-ca", c.caCert])
        XCTAssertEqual(alone.exitCode, 64)
        XCTAssertTrue(alone.stderr.contains("need --tls"), alone.stderr)
        let both = try client(["localhost", "9", "x", "--tls", "--insecure", "--tls-ca", c.caCert])
        XCTAssertEqual(both.exitCode, 64)
        let server = try startEchoServer(["--tls-cert", c.serverCert, "--tls-key", c.serverKey])
        let missing = try client(["localhost", String(server.port), "x", "--tls", "--tls-ca", c.path("nope.pem")])
        XCTAssertEqual(missing.exitCode, 64)
        XCTAssertTrue(missing.stderr.contains("nope.pem: No such file or directory"), missing.stderr)
        // Checked before connecting, and a FIFO is refused rather than waited on.
        let fifo = c.path("client-fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let notAFile = try client(["localhost", "1", "x", "--tls", "--tls-ca", fifo])
        XCTAssertEqual(notAFile.exitCode, 64)
        XCTAssertTrue(notAFile.stderr.contains("not a regular file"), notAFile.stderr)
    }

    func testPlainServerIsATLSFailureNotAHang() throws {
        let server = try startEchoServer(["--mode", "raw"])
        let result = try client([
            "localhost", String(server.port), "x", "--raw", "--tls", "--insecure", "--timeout", "2",
        ])
        XCTAssertNotEqual(result.exitCode, 0)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
    }
}

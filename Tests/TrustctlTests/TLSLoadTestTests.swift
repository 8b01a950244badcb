import Foundation
import XCTest

/// `echo-load-test --tls` against `echo-server --tls-cert`: every round trip
/// verified, handshakes counted (and resumed with --tls-resume) apart from
/// the round trips, failures of the handshake reported as such.
final class TLSLoadTestTests: TLSCertificateTestCase {
    private func loadTest(_ arguments: [String]) throws -> (TrustctlResult, [String: Any]) {
        let result = try TrustctlProcess.run(
            ["echo-load-test"] + arguments + ["--json"], environment: try makeTrustctlEnvironment().variables,
            timeout: 120)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return (result, try XCTUnwrap(object, result.stdout + result.stderr))
    }

    func testThousandConcurrentTLSConnectionsFramedWithResumption() throws {
        let c = try certs()
        let server = try startEchoServer(
            [
                "--mode", "framed", "--tls-cert", c.serverCert, "--tls-key", c.serverKey, "--log-level", "warning",
                // Slow builds (AddressSanitizer) take longer than the 10 s default for 1,000 handshakes at once.
                "--tls-handshake-timeout", "120",
            ])
        let (result, json) = try loadTest([
            "--host", "127.0.0.1", "--port", String(server.port), "--clients", "2000", "--messages", "3",
            "--concurrency", "1000", "--tls", "--tls-ca", c.caCert, "--sni", "localhost", "--tls-resume",
            "--timeout", "120",
        ])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(json["ok"] as? Int, 6000)
        let tls = try XCTUnwrap(json["tls"] as? [String: Any])
        XCTAssertEqual(tls["handshakes"] as? Int, 2000)
        XCTAssertEqual(tls["resumed"] as? Int, 1000, "every slot's second session resumes its first")
        XCTAssertEqual(tls["resume"] as? Bool, true)
        XCTAssertNotNil(tls["handshake_us"] as? [String: Any])
        XCTAssertGreaterThan(tls["handshakes_per_s"] as? Double ?? 0, 0)
        XCTAssertEqual(try server.stop(), 0)
    }

    func testRawModeSummaryReportsHandshakesApart() throws {
        let c = try certs()
        let server = try startEchoServer(["--mode", "raw", "--tls-cert", c.serverCert, "--tls-key", c.serverKey])
        let result = try TrustctlProcess.run(
            [
                "echo-load-test", "--host", "localhost", "--port", String(server.port), "--clients", "20",
                "--messages", "5", "--concurrency", "4", "--mode", "raw", "--payload-size", "100000", "--tls",
                "--insecure",
            ], environment: try makeTrustctlEnvironment().variables, timeout: 60)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("100/100 ok, 0 failed"), result.stdout)
        XCTAssertTrue(result.stdout.contains("tls handshakes: 20 (0 resumed), 0 failed"), result.stdout)
        XCTAssertTrue(result.stdout.contains("tls handshake us: p50 "), result.stdout)
    }

    func testWrongCAFailsEveryHandshake() throws {
        let c = try certs()
        let server = try startEchoServer(["--mode", "raw", "--tls-cert", c.serverCert, "--tls-key", c.serverKey])
        let (result, json) = try loadTest([
            "--host", "127.0.0.1", "--port", String(server.port), "--clients", "5", "--messages", "2",
            "--mode", "raw", "--tls", "--tls-ca", c.otherCACert,
        ])
        XCTAssertNotEqual(result.exitCode, 0)
        XCTAssertEqual(json["ok"] as? Int, 0)
        XCTAssertEqual(json["failed"] as? Int, 10)
        let tls = try XCTUnwrap(json["tls"] as? [String: Any])
        XCTAssertEqual(tls["handshake_failures"] as? Int, 5)
        XCTAssertTrue(result.stderr.contains("TLS handshake failed"), result.stderr)
    }

    func testTLSOptionsNeedTLS() throws {
        let result = try TrustctlProcess.run(
            [
                "echo-load-test", "--host", "127.0.0.1", "--port", "9", "--clients", "1", "--messages", "1",
                "--tls-resume",
            ],
            environment: try makeTrustctlEnvironment().variables)
        XCTAssertEqual(result.exitCode, 64)
        XCTAssertTrue(result.stderr.contains("need --tls"), result.stderr)
    }
}

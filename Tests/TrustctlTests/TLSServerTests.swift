import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-server --tls-cert/--tls-key` against real TLS peers: OpenSSL's
/// s_client, socat's OPENSSL address and Python's ssl module as clients,
/// certificates made by `openssl req`/`openssl x509` for the run. Runs on
/// the backend TRUST_ECHO_IO selects (the suite runs on both).
final class TLSServerTests: TLSCertificateTestCase {
    private func startTLSServer(_ extra: [String] = [], cert: String? = nil) throws -> EchoServerUnderTest {
        let c = try certs()
        return try startEchoServer(["--tls-cert", cert ?? c.serverCert, "--tls-key", c.serverKey] + extra)
    }

    /// `openssl s_client` sending `input`; -quiet keeps it reading after its
    /// stdin ends, so the server's idle timeout (or close) ends the session.
    private func sClient(_ port: UInt16, _ options: [String], input: String, timeout: Double = 15) throws
        -> ExternalToolResult
    {
        try ExternalTool.run(
            "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-quiet"] + options,
            stdin: Data(input.utf8), timeout: timeout)
    }

    // MARK: - Third-party clients

    func testOpenSSLClientGetsItsEchoOverTLS13And12() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw", "--timeout", "1"])
        for version in ["-tls1_3", "-tls1_2"] {
            let result = try sClient(
                server.port, [version, "-CAfile", c.caCert, "-servername", "localhost", "-verify_return_error"],
                input: "hello over \(version)\n")
            XCTAssertEqual(result.stdoutText, "hello over \(version)\n", result.stderr)
        }
        let handshakes = server.log.entries(event: "tls_handshake_completed")
        XCTAssertEqual(handshakes.map { $0.string("tls_version") }, ["TLSv1.3", "TLSv1.2"])
        XCTAssertEqual(handshakes.first?.string("sni"), "localhost")
        XCTAssertFalse((handshakes.first?.string("cipher") ?? "").isEmpty)
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.string("tls_version"), "TLSv1.3")
        XCTAssertNotNil(closed.string("cipher"))
        XCTAssertEqual(try server.stop(), 0)
    }

    func testTLS11IsRefused() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw"])
        let result = try sClient(
            server.port, ["-tls1_1", "-CAfile", c.caCert, "-cipher", "DEFAULT@SECLEVEL=0"], input: "old\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stdoutText, "")
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "tls_handshake_failed")
    }

    func testSocatClientRawAndFramed() throws {
        let c = try certs()
        for mode in ["raw", "framed", "auto"] {
            let server = try startTLSServer(["--mode", mode])
            let payload: [UInt8] =
                mode == "raw" ? Array("socat says hi\n".utf8) : TestFrame.encode(Array(repeating: 0x41, count: 5000))
            let result = try ExternalTool.run(
                "/usr/bin/socat",
                ["-t", "5", "-", "OPENSSL:localhost:\(server.port),pf=ip4,cafile=\(c.caCert)"],
                stdin: Data(payload))
            XCTAssertEqual(Array(result.stdout), payload, "\(mode): \(result.stderr)")
            let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
            XCTAssertEqual(closed.reason, "peer_closed", "\(mode): close_notify is the client's end of input")
            XCTAssertEqual(try server.stop(), 0)
        }
    }

    func testOwnClientFramedAndRawWithLargePayloads() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "auto", "--max-frame", "1048576"])
        let environment = try makeTrustctlEnvironment().variables
        let framed = try TrustctlProcess.run(
            [
                "echo-client", "localhost", String(server.port), "--tls", "--tls-ca", c.caCert, "--payload-size",
                "1000000",
            ],
            environment: environment)
        XCTAssertEqual(framed.exitCode, 0, framed.stderr)
        XCTAssertEqual(framed.stdout, "echoed 1000000 bytes, verified\n")
        let raw = try TrustctlProcess.run(
            [
                "echo-client", "127.0.0.1", String(server.port), "--tls", "--tls-ca", c.caCert, "--raw",
                "--payload-size", "3000000",
            ], environment: environment)
        XCTAssertEqual(raw.exitCode, 0, raw.stderr)
        XCTAssertEqual(raw.stdout, "echoed 3000000 bytes, verified\n")
        XCTAssertEqual(try server.stop(), 0)
    }

    // MARK: - Failures

    func testWrongCAFailsTheHandshakeAndIsLogged() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw"])
        let result = try sClient(
            server.port, ["-CAfile", c.otherCACert, "-verify_return_error", "-servername", "localhost"], input: "x\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("unable to get local issuer certificate"), result.stderr)
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "tls_handshake_failed")
        XCTAssertTrue((closed.string("tls_error") ?? "").contains("unknown ca"), closed.description)

        let client = try TrustctlProcess.run(
            ["echo-client", "localhost", String(server.port), "hi", "--tls", "--tls-ca", c.otherCACert],
            environment: try makeTrustctlEnvironment().variables)
        XCTAssertEqual(client.exitCode, 69)
        XCTAssertTrue(client.stderr.contains("unable to get local issuer certificate"), client.stderr)
    }

    func testExpiredCertificateIsRefusedByClients() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw", "--timeout", "1"], cert: c.expiredCert)
        let result = try sClient(server.port, ["-CAfile", c.caCert, "-verify_return_error"], input: "x\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("certificate has expired"), result.stderr)
        let environment = try makeTrustctlEnvironment().variables
        let client = try TrustctlProcess.run(
            ["echo-client", "localhost", String(server.port), "hi", "--tls", "--tls-ca", c.caCert],
            environment: environment)
        XCTAssertEqual(client.exitCode, 69)
        XCTAssertTrue(client.stderr.contains("certificate has expired"), client.stderr)
        let insecure = try TrustctlProcess.run(
            ["echo-client", "localhost", String(server.port), "hi", "--raw", "--tls", "--insecure"],
            environment: environment)
        XCTAssertEqual(insecure.exitCode, 0, insecure.stderr)
        XCTAssertEqual(insecure.stdout, "hi\n")
    }

    func testMutualTLSRefusesAClientWithoutCertificate() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw", "--timeout", "1", "--tls-client-ca", c.caCert])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        XCTAssertEqual(started.string("tls_client_auth"), "required")
        let anonymous = try sClient(server.port, ["-CAfile", c.caCert], input: "who am i\n")
        XCTAssertEqual(anonymous.stdoutText, "")
        let refused = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(refused.reason, "tls_handshake_failed")
        XCTAssertTrue((refused.string("tls_error") ?? "").contains("certificate"), refused.description)

        let identified = try sClient(
            server.port, ["-CAfile", c.caCert, "-cert", c.clientCert, "-key", c.clientKey], input: "it is me\n")
        XCTAssertEqual(identified.stdoutText, "it is me\n", identified.stderr)
    }

    func testPlaintextClientIsClosedAndTheServerCarriesOn() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw"])
        let plain = try server.connect()
        plain.setReceiveTimeout(ms: 5000)
        try plain.send("GET / HTTP/1.0\r\n\r\n")
        let answer = try plain.receiveToEnd(limit: 4096)
        XCTAssertFalse(String(decoding: answer, as: UTF8.self).contains("GET"), "nothing echoed in plain text")
        plain.close()
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "tls_handshake_failed")
        XCTAssertFalse((closed.string("tls_error") ?? "").isEmpty)

        let client = try TrustctlProcess.run(
            ["echo-client", "localhost", String(server.port), "still", "here", "--raw", "--tls", "--tls-ca", c.caCert],
            environment: try makeTrustctlEnvironment().variables)
        XCTAssertEqual(client.exitCode, 0, client.stderr)
        XCTAssertEqual(client.stdout, "still\nhere\n")
        XCTAssertEqual(try server.stop(), 0)
    }

    func testStalledHandshakeIsClosedByTheHandshakeTimeout() throws {
        let server = try startTLSServer(["--mode", "raw", "--tls-handshake-timeout", "0.5"])
        let stalled = try server.connect()
        stalled.setReceiveTimeout(ms: 10_000)
        // A handshake record header promising 200 bytes that never come.
        try stalled.send([0x16, 0x03, 0x01, 0x00, 0xC8, 0x01])
        let started = Date()
        XCTAssertEqual(stalled.receiveOnce(), 0, "closed by the server")
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "well before the idle timeout")
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "tls_handshake_failed")
        XCTAssertEqual(closed.string("tls_error"), "no complete handshake within 0.5 s")
        stalled.close()
    }

    func testMetricsCountHandshakesAndFailures() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw", "--metrics-port", "0", "--timeout", "1"])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        let metricsPort = UInt16(try XCTUnwrap(started.integer("metrics_port")))
        _ = try sClient(server.port, ["-CAfile", c.caCert], input: "one\n")
        let plain = try server.connect()
        try plain.send("plain\n")
        plain.setReceiveTimeout(ms: 5000)
        _ = try? plain.receiveToEnd(limit: 4096)
        plain.close()
        XCTAssertNotNil(server.log.waitForEntry { $0.reason == "tls_handshake_failed" })
        let scrape = try TestSocket(host: "127.0.0.1", port: metricsPort)
        scrape.setReceiveTimeout(ms: 5000)
        try scrape.send("GET /metrics HTTP/1.0\r\n\r\n")
        let text = String(decoding: try scrape.receiveToEnd(), as: UTF8.self)
        XCTAssertTrue(text.contains("\ntrustctl_tls_handshakes_total 1\n"), text)
        XCTAssertTrue(text.contains("\ntrustctl_tls_handshake_failures_total 1\n"), text)
        XCTAssertTrue(text.contains("reason=\"tls_handshake_failed\"} 1"), text)
    }

    // MARK: - Reload and start-up checks

    func testSIGHUPReloadsTheCertificateAndKeepsTheOldOnABadFile() throws {
        let c = try certs()
        let environment = try makeTrustctlEnvironment()
        let certPath = environment.directory.appendingPathComponent("live.pem").path
        try FileManager.default.copyItem(atPath: c.serverCert, toPath: certPath)
        let server = try startEchoServer(
            ["--mode", "raw", "--tls-cert", certPath, "--tls-key", c.serverKey], environment: environment)
        let clientEnvironment = try makeTrustctlEnvironment().variables
        func echo() throws -> TrustctlResult {
            try TrustctlProcess.run(
                ["echo-client", "localhost", String(server.port), "ping", "--raw", "--tls", "--tls-ca", c.caCert],
                environment: clientEnvironment)
        }
        XCTAssertEqual(try echo().exitCode, 0)

        // A broken file: the reload fails, says why, and the old certificate stays.
        try "not a certificate\n".write(toFile: certPath, atomically: true, encoding: .utf8)
        server.process.sendSignal(SIGHUP)
        let failed = try XCTUnwrap(server.log.waitForEntry(event: "tls_reload_failed"))
        XCTAssertTrue((failed.string("error") ?? "").contains(certPath), failed.description)
        XCTAssertTrue((failed.string("error") ?? "").contains("no start line"), failed.description)
        let still = try echo()
        XCTAssertEqual(still.exitCode, 0, still.stderr)

        // A new certificate (here: an expired one, so the change is visible) for new connections.
        try FileManager.default.removeItem(atPath: certPath)
        try FileManager.default.copyItem(atPath: c.expiredCert, toPath: certPath)
        server.process.sendSignal(SIGHUP)
        XCTAssertNotNil(server.log.waitForEntry(event: "tls_reloaded"))
        let after = try echo()
        XCTAssertEqual(after.exitCode, 69)
        XCTAssertTrue(after.stderr.contains("certificate has expired"), after.stderr)
        XCTAssertEqual(try server.stop(), 0)
    }

    func testBadFilesAtStartAreConfigErrorsNamingTheFile() throws {
        let c = try certs()
        let environment = try makeTrustctlEnvironment()
        let garbage = environment.directory.appendingPathComponent("garbage.pem").path
        try "hello\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let missing = environment.directory.appendingPathComponent("missing.pem").path
        let fifo = environment.directory.appendingPathComponent("fifo.pem").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let cases: [([String], [String])] = [
            (["--tls-cert", missing, "--tls-key", c.serverKey], [missing, "No such file or directory"]),
            (["--tls-cert", garbage, "--tls-key", c.serverKey], [garbage, "no start line"]),
            (["--tls-cert", fifo, "--tls-key", c.serverKey], [fifo, "not a regular file"]),
            (["--tls-cert", "/dev/zero", "--tls-key", c.serverKey], ["/dev/zero", "not a regular file"]),
            (["--tls-cert", c.serverCert, "--tls-key", garbage], [garbage, "tls-key"]),
            (["--tls-cert", c.serverCert, "--tls-key", c.clientKey], [c.clientKey, "mismatch"]),
            (["--tls-cert", c.serverCert, "--tls-key", c.encryptedKey], [c.encryptedKey, "bad decrypt"]),
            (
                ["--tls-cert", c.serverCert, "--tls-key", c.serverKey, "--tls-client-ca", missing],
                ["tls-client-ca", missing]
            ),
            (["--tls-cert", c.serverCert], ["tls-cert needs tls-key"]),
            (["--tls-key", c.serverKey], ["tls-key needs tls-cert"]),
        ]
        for (flags, expected) in cases {
            let result = try TrustctlProcess.run(
                ["echo-server", "--port", "0", "--host", "127.0.0.1"] + flags, environment: environment.variables)
            XCTAssertEqual(result.exitCode, 78, "\(flags): \(result.stderr)")
            XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
            for text in expected { XCTAssertTrue(result.stderr.contains(text), "\(flags): \(result.stderr)") }
            XCTAssertEqual(result.stdout, "", "no ready line")
        }
    }

    // MARK: - Many connections

    func testThousandConcurrentTLSConnections() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw"])
        let script = """
            import resource, socket, ssl, sys
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
            context = ssl.create_default_context(cafile=sys.argv[2])
            port = int(sys.argv[1])
            connections = []
            for i in range(1000):
                raw = socket.create_connection(("127.0.0.1", port), timeout=20)
                connections.append(context.wrap_socket(raw, server_hostname="localhost"))
            for i, s in enumerate(connections):
                s.sendall(b"message %d\\n" % i)
            ok = 0
            for i, s in enumerate(connections):
                want = b"message %d\\n" % i
                got = b""
                while len(got) < len(want):
                    chunk = s.recv(len(want) - len(got))
                    if not chunk:
                        break
                    got += chunk
                ok += got == want
            for s in connections:
                s.close()
            print(ok)
            """
        let result = try ExternalTool.run(
            "/usr/bin/env", ["python3", "-c", script, String(server.port), c.caCert], timeout: 120)
        XCTAssertEqual(result.stdoutText, "1000\n", result.stderr)
        XCTAssertEqual(server.log.entries(event: "tls_handshake_completed").count, 1000)
        XCTAssertEqual(try server.stop(), 0)
    }

    func testServerSendsCloseNotifyWhenItCloses() throws {
        let c = try certs()
        let server = try startTLSServer(["--mode", "raw", "--timeout", "0.5"])
        // Python raises SSLEOFError on a TCP end without close_notify; recv() returns b"" after one.
        let script = """
            import socket, ssl, sys
            context = ssl.create_default_context(cafile=sys.argv[2])
            s = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                                    server_hostname="localhost")
            s.sendall(b"bye\\n")
            got = b""
            while True:
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
            print(got.decode().strip(), "close_notify")
            """
        let result = try ExternalTool.run(
            "/usr/bin/env", ["python3", "-c", script, String(server.port), c.caCert], timeout: 30)
        XCTAssertEqual(result.stdoutText, "bye close_notify\n", result.stderr)
        let closed = try XCTUnwrap(server.log.waitForEntry { $0.event == "connection_closed" })
        XCTAssertEqual(closed.reason, "idle_timeout")
    }
}

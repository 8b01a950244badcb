import CNetTLS
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// CNetTLS on its own: two endpoints in memory, ciphertext moved between
/// them by hand, no socket (the way the reactor drives it).
final class CNetTLSTests: XCTestCase {
    nonisolated(unsafe) static var certificates: TestCertificates?

    override class func setUp() {
        super.setUp()
        certificates = try? TestCertificates.make()
    }

    override class func tearDown() {
        certificates?.remove()
        super.tearDown()
    }

    private func certs() throws -> TestCertificates {
        try XCTUnwrap(CNetTLSTests.certificates, "openssl could not make the test certificates")
    }

    // MARK: - Helpers

    private struct ContextError: Error {
        let rc: Int32
        let which: Int32
        let reason: String
    }

    private func serverContext(cert: String, key: String, clientCA: String? = nil) throws -> OpaquePointer {
        var ctx: OpaquePointer?
        var which: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = cnet_tls_server_ctx_new(cert, key, clientCA, &ctx, &which, &err, err.count)
        guard rc == 0, let ctx else {
            throw ContextError(
                rc: rc, which: which, reason: err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return ctx
    }

    private func clientContext(ca: String?, insecure: Bool = false, cert: String? = nil, key: String? = nil)
        throws -> OpaquePointer
    {
        var ctx: OpaquePointer?
        var which: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = cnet_tls_client_ctx_new(ca, insecure ? 1 : 0, cert, key, &ctx, &which, &err, err.count)
        guard rc == 0, let ctx else {
            throw ContextError(
                rc: rc, which: which, reason: err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return ctx
    }

    /// Moves every pending byte of `from` into `to`; returns the count.
    @discardableResult
    private func move(_ from: OpaquePointer, _ to: OpaquePointer) -> Int {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var total = 0
        while cnet_tls_pending(from) > 0 {
            let n = cnet_tls_take(from, &buffer, buffer.count)
            XCTAssertEqual(cnet_tls_feed(to, buffer, n), 0)
            total += n
        }
        return total
    }

    /// Steps both handshakes until both are done or one fails (bounded).
    /// Returns (client result, server result).
    private func handshake(_ client: OpaquePointer, _ server: OpaquePointer) -> (Int32, Int32) {
        var clientRC = cnet_tls_handshake(client)
        var serverRC: Int32 = -EAGAIN
        for _ in 0..<20 {
            move(client, server)
            serverRC = cnet_tls_handshake(server)
            move(server, client)
            clientRC = cnet_tls_handshake(client)
            if (clientRC == 1 && serverRC == 1) || clientRC == -EPROTO || serverRC == -EPROTO { break }
        }
        // The client's last flight (or its alert) still reaches the server.
        move(client, server)
        if serverRC != -EPROTO { serverRC = cnet_tls_handshake(server) }
        return (clientRC, serverRC)
    }

    private func read(_ conn: OpaquePointer) -> (Int, [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let n = cnet_tls_read(conn, &buffer, buffer.count)
        return (n, n > 0 ? Array(buffer[0..<n]) : [])
    }

    // MARK: - Tests

    func testHandshakeAndEchoBothWays() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(clientCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "localhost"))
        defer { cnet_tls_conn_free(client) }

        let (clientRC, serverRC) = handshake(client, server)
        XCTAssertEqual(clientRC, 1, String(cString: cnet_tls_conn_error(client)))
        XCTAssertEqual(serverRC, 1, String(cString: cnet_tls_conn_error(server)))
        XCTAssertEqual(String(cString: cnet_tls_conn_version(server)), "TLSv1.3")
        XCTAssertFalse(String(cString: cnet_tls_conn_cipher(server)).isEmpty)
        XCTAssertEqual(cnet_tls_conn_server_name(server).map { String(cString: $0) }, "localhost")

        let message = Array("hello over TLS".utf8)
        XCTAssertEqual(cnet_tls_write(client, message, message.count), message.count)
        move(client, server)
        let (n, got) = read(server)
        XCTAssertEqual(n, message.count)
        XCTAssertEqual(got, message)
        XCTAssertEqual(read(server).0, -Int(EAGAIN), "nothing more buffered")

        // 100 KiB back: several records.
        let big = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        XCTAssertEqual(cnet_tls_write(server, big, big.count), big.count)
        move(server, client)
        var received: [UInt8] = []
        while true {
            let (n, chunk) = read(client)
            if n <= 0 { break }
            received += chunk
        }
        XCTAssertEqual(received, big)

        // close_notify: the peer reads 0.
        XCTAssertEqual(cnet_tls_close_notify(client), 0)
        XCTAssertGreaterThan(move(client, server), 0)
        XCTAssertEqual(read(server).0, 0)
    }

    func testIPAddressIsVerifiedAndNotSentAsSNI() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(clientCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "127.0.0.1"))
        defer { cnet_tls_conn_free(client) }
        let (clientRC, serverRC) = handshake(client, server)
        XCTAssertEqual(clientRC, 1, String(cString: cnet_tls_conn_error(client)))
        XCTAssertEqual(serverRC, 1)
        XCTAssertNil(cnet_tls_conn_server_name(server), "no SNI for an address")
    }

    func testWrongCAFailsOnBothSides() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.otherCACert)
        defer { cnet_tls_ctx_free(clientCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "localhost"))
        defer { cnet_tls_conn_free(client) }
        let (clientRC, serverRC) = handshake(client, server)
        XCTAssertEqual(clientRC, -EPROTO)
        XCTAssertTrue(
            String(cString: cnet_tls_conn_error(client)).contains("unable to get local issuer certificate"),
            String(cString: cnet_tls_conn_error(client)))
        XCTAssertEqual(serverRC, -EPROTO, "the client's alert fails the server's handshake")
        XCTAssertTrue(String(cString: cnet_tls_conn_error(server)).contains("alert"))
    }

    func testExpiredCertificateIsRefusedButInsecureAccepts() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.expiredCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(clientCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "localhost"))
        defer { cnet_tls_conn_free(client) }
        XCTAssertEqual(handshake(client, server).0, -EPROTO)
        XCTAssertTrue(
            String(cString: cnet_tls_conn_error(client)).contains("certificate has expired"),
            String(cString: cnet_tls_conn_error(client)))

        let insecureCtx = try clientContext(ca: nil, insecure: true)
        defer { cnet_tls_ctx_free(insecureCtx) }
        let server2 = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server2) }
        let client2 = try XCTUnwrap(cnet_tls_conn_new_client(insecureCtx, "localhost"))
        defer { cnet_tls_conn_free(client2) }
        let (clientRC, serverRC) = handshake(client2, server2)
        XCTAssertEqual(clientRC, 1)
        XCTAssertEqual(serverRC, 1)
    }

    func testHostNameMismatchIsRefused() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(clientCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "not-this-host.example"))
        defer { cnet_tls_conn_free(client) }
        XCTAssertEqual(handshake(client, server).0, -EPROTO)
        XCTAssertTrue(String(cString: cnet_tls_conn_error(client)).contains("mismatch"))
    }

    func testMutualTLSRequiresAClientCertificate() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey, clientCA: c.caCert)
        defer { cnet_tls_ctx_free(serverCtx) }

        let anonymousCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(anonymousCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(anonymousCtx, "localhost"))
        defer { cnet_tls_conn_free(client) }
        let (_, serverRC) = handshake(client, server)
        XCTAssertEqual(serverRC, -EPROTO)
        XCTAssertTrue(
            String(cString: cnet_tls_conn_error(server)).contains("certificate"),
            String(cString: cnet_tls_conn_error(server)))

        let identifiedCtx = try clientContext(ca: c.caCert, cert: c.clientCert, key: c.clientKey)
        defer { cnet_tls_ctx_free(identifiedCtx) }
        let server2 = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server2) }
        let client2 = try XCTUnwrap(cnet_tls_conn_new_client(identifiedCtx, "localhost"))
        defer { cnet_tls_conn_free(client2) }
        let (clientRC, serverRC2) = handshake(client2, server2)
        XCTAssertEqual(clientRC, 1)
        XCTAssertEqual(serverRC2, 1, String(cString: cnet_tls_conn_error(server2)))
    }

    func testSessionResumption() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(clientCtx) }

        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "localhost"))
        defer { cnet_tls_conn_free(client) }
        XCTAssertEqual(handshake(client, server).0, 1)
        XCTAssertEqual(cnet_tls_conn_session_reused(client), 0)
        // TLS 1.3: the tickets come after the handshake; a read takes them in.
        let ping = Array("x".utf8)
        XCTAssertEqual(cnet_tls_write(server, ping, 1), 1)
        move(server, client)
        XCTAssertEqual(read(client).0, 1)
        let session = try XCTUnwrap(cnet_tls_conn_get_session(client), "a resumable session")
        defer { cnet_tls_session_free(session) }

        let server2 = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server2) }
        let client2 = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "localhost"))
        defer { cnet_tls_conn_free(client2) }
        XCTAssertEqual(cnet_tls_conn_set_session(client2, session), 0)
        let (clientRC, serverRC) = handshake(client2, server2)
        XCTAssertEqual(clientRC, 1)
        XCTAssertEqual(serverRC, 1)
        XCTAssertEqual(cnet_tls_conn_session_reused(client2), 1)
        XCTAssertEqual(cnet_tls_conn_session_reused(server2), 1)
    }

    func testPeekAndConsumeMoveCiphertextWithoutACopy() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let clientCtx = try clientContext(ca: c.caCert)
        defer { cnet_tls_ctx_free(clientCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let client = try XCTUnwrap(cnet_tls_conn_new_client(clientCtx, "localhost"))
        defer { cnet_tls_conn_free(client) }
        XCTAssertEqual(handshake(client, server).0, 1)
        let message = [UInt8](repeating: 0x5A, count: 40_000)
        XCTAssertEqual(cnet_tls_write(client, message, message.count), message.count)
        // Hand the ciphertext over in uneven pieces straight from the client's buffer.
        var data: UnsafeRawPointer?
        var pending = cnet_tls_peek(client, &data)
        XCTAssertGreaterThan(pending, message.count)
        while pending > 0, let base = data {
            let piece = min(pending, 1_000)
            XCTAssertEqual(cnet_tls_feed(server, base, piece), 0)
            cnet_tls_consume(client, piece)
            pending = cnet_tls_peek(client, &data)
        }
        XCTAssertEqual(cnet_tls_pending(client), 0)
        var received: [UInt8] = []
        while true {
            let (n, chunk) = read(server)
            if n <= 0 { break }
            received += chunk
        }
        XCTAssertEqual(received, message)
    }

    func testPlaintextPeerFailsTheHandshake() throws {
        let c = try certs()
        let serverCtx = try serverContext(cert: c.serverCert, key: c.serverKey)
        defer { cnet_tls_ctx_free(serverCtx) }
        let server = try XCTUnwrap(cnet_tls_conn_new_server(serverCtx))
        defer { cnet_tls_conn_free(server) }
        let text = Array("hello, plain text\n".utf8)
        XCTAssertEqual(cnet_tls_feed(server, text, text.count), 0)
        XCTAssertEqual(cnet_tls_handshake(server), -EPROTO)
        XCTAssertFalse(String(cString: cnet_tls_conn_error(server)).isEmpty)
        XCTAssertEqual(cnet_tls_write(server, text, text.count), -Int(EAGAIN), "no plaintext before a handshake")
    }

    func testContextErrorsNameTheFileAndReason() throws {
        let c = try certs()
        func failure(_ body: () throws -> OpaquePointer) -> ContextError? {
            do {
                cnet_tls_ctx_free(try body())
                return nil
            } catch let error as ContextError {
                return error
            } catch {
                return nil
            }
        }
        let missing = failure { try serverContext(cert: c.path("nope.pem"), key: c.serverKey) }
        XCTAssertEqual(missing?.rc, -ENOENT)
        XCTAssertEqual(missing?.which, Int32(CNET_TLS_FILE_CERT))

        let notPEM = failure { try serverContext(cert: c.path("server.ext"), key: c.serverKey) }
        XCTAssertEqual(notPEM?.rc, -EINVAL)
        XCTAssertEqual(notPEM?.which, Int32(CNET_TLS_FILE_CERT))
        XCTAssertTrue(notPEM?.reason.contains("no start line") == true, notPEM?.reason ?? "")

        let mismatch = failure { try serverContext(cert: c.serverCert, key: c.clientKey) }
        XCTAssertEqual(mismatch?.rc, -EINVAL)
        XCTAssertEqual(mismatch?.which, Int32(CNET_TLS_FILE_KEY))
        XCTAssertTrue(mismatch?.reason.contains("mismatch") == true, mismatch?.reason ?? "")

        let keyAsCert = failure { try serverContext(cert: c.serverCert, key: c.serverCert) }
        XCTAssertEqual(keyAsCert?.which, Int32(CNET_TLS_FILE_KEY))

        let badCA = failure { try serverContext(cert: c.serverCert, key: c.serverKey, clientCA: c.path("gone")) }
        XCTAssertEqual(badCA?.rc, -ENOENT)
        XCTAssertEqual(badCA?.which, Int32(CNET_TLS_FILE_CA))
    }
}

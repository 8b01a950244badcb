import Foundation
import XCTest

/// TLS lives in the core: the key-value example serves over TLS with the
/// settings it inherits and no line of its own; a PROXY header is read
/// before the handshake. The client is Python's ssl module.
extension KeyValueExampleTests {
    func testKeyValueExampleServesOverTLSAfterAProxyHeader() throws {
        let certificates = try TLSCertificates.make()
        defer { certificates.remove() }
        let server = try startKeyValueServer([
            "--tls-cert", certificates.serverCert, "--tls-key", certificates.serverKey, "--proxy-protocol", "v1",
        ])
        let script = """
            import socket, ssl, struct, sys
            raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
            raw.sendall(b"PROXY TCP4 198.51.100.7 192.0.2.1 7000 9900\\r\\n")
            s = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(raw, server_hostname="localhost")
            def request(op, key, value=b""):
                body = bytes([op]) + struct.pack(">H", len(key)) + key + value
                s.sendall(struct.pack(">I", len(body)) + body)
                head = b""
                while len(head) < 4:
                    head += s.recv(4 - len(head))
                n = struct.unpack(">I", head)[0]
                data = b""
                while len(data) < n:
                    data += s.recv(n - len(data))
                return data
            print(request(2, b"key", b"value").hex(), request(1, b"key").hex(), request(1, b"nope").hex())
            s.close()
            """
        let result = try ExternalTool.run(
            "/usr/bin/env", ["python3", "-c", script, String(server.port), certificates.caCert], timeout: 30)
        XCTAssertEqual(result.stdoutText, "00 0076616c7565 01\n", result.stderr)
        let done = try XCTUnwrap(server.log.waitForEntry(event: "tls_handshake_completed"))
        XCTAssertEqual(done.peer, "198.51.100.7:7000", "the PROXY header named the client")
        let closed = try XCTUnwrap(
            server.log.waitForEntry { $0.event == "connection_closed" && $0.peer == "198.51.100.7:7000" })
        XCTAssertEqual(closed.integer("frames"), 3)
        XCTAssertNotNil(closed.string("tls_version"))
        XCTAssertEqual(try server.stop(), 0)
    }
}

import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A real HAProxy (Debian's haproxy) running the shipped deploy/haproxy/trustctl.cfg in
/// front of the real `trustctl echo-server --proxy-protocol v2`: the server logs the
/// client's own address as `peer` and HAProxy's as `proxied_by`, and HAProxy's health
/// checks reach `/readyz` on the metrics port.
final class ProxyHAProxyTests: XCTestCase {
    func testClientAddressThroughHAProxyIsTheLoggedPeer() throws {
        guard HAProxyProcess.isInstalled else {
            return XCTFail("\(HAProxyProcess.path) is missing: install Debian's haproxy package (.ci/run does)")
        }
        let server = try startEchoServer(["--mode", "raw", "--proxy-protocol", "v2", "--metrics-port", "0"])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        let metricsPort = try XCTUnwrap(started.integer("metrics_port"))

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let probe = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, nil)
        let frontendPort = UInt16(cnet_local_port(probe))
        _ = cnet_close(probe)
        let directory = server.environment.directory
        var environment = ProcessInfo.processInfo.environment
        environment["TRUSTCTL_FLEET_DIR"] = directory.path
        environment["TRUSTCTL_FLEET_PORT"] = String(frontendPort)
        for index in 1...3 {
            environment["TRUSTCTL_ECHO\(index)_PORT"] = String(server.port)
            environment["TRUSTCTL_METRICS\(index)_PORT"] = String(metricsPort)
        }
        let haproxy = try HAProxyProcess(
            config: root.appendingPathComponent("deploy/haproxy/trustctl.cfg").path, environment: environment)
        defer { haproxy.stop() }

        // Health checks arrive on the metrics port (HTTP/1.0 GET /readyz, answered 200).
        var echoed: (socket: TestSocket, message: [UInt8])?
        waitUntil(timeout: 20) {
            guard let client = try? TestSocket(host: "127.0.0.1", port: frontendPort) else { return false }
            client.setReceiveTimeout(ms: 2000)
            let message = Array("through haproxy\n".utf8)
            guard (try? client.send(message)) != nil, (try? client.receive(exactly: message.count)) == message else {
                client.close()
                return false
            }
            echoed = (client, message)
            return true
        }
        let (client, _) = try XCTUnwrap(echoed, "no echo through HAProxy")
        client.close()
        let closed = try XCTUnwrap(
            server.log.waitForEntry {
                $0.event == "connection_closed" && $0.peer == "127.0.0.1:\(client.localPort)"
            }, "the client's own address is the logged peer")
        let balancer = try XCTUnwrap(closed.string("proxied_by"))
        XCTAssertTrue(balancer.hasPrefix("127.0.0.3:"), "HAProxy connects from its `source 127.0.0.3`: \(balancer)")
        XCTAssertNotEqual(balancer, "127.0.0.1:\(client.localPort)")
        XCTAssertEqual(closed.reason, "peer_closed")
        XCTAssertEqual(closed.integer("bytes_in"), 16)
    }
}

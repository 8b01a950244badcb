import Foundation
import XCTest

/// deploy/kubernetes/trustctl-echo.yaml is not run here (no cluster), but what it asks of
/// trustctl is checked: its container arguments are settings `config show` accepts, and its
/// probes name endpoints the metrics port serves.
final class KubernetesManifestTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testContainerArgumentsAreAcceptedSettingsAndProbesAreServedPaths() throws {
        let text = try String(
            contentsOf: root.appendingPathComponent("deploy/kubernetes/trustctl-echo.yaml"), encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "args: ["))
        let end = try XCTUnwrap(text.range(of: "]", range: start.upperBound..<text.endIndex))
        let arguments = text[start.upperBound..<end.lowerBound].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        XCTAssertEqual(arguments.first, "echo-server")
        let env = try makeTrustctlEnvironment()
        let shown = try TrustctlProcess.run(
            ["config", "show"] + arguments.dropFirst(), environment: env.variables, timeout: 30)
        XCTAssertEqual(shown.exitCode, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("metrics-port"), shown.stdout)

        // The probes' paths answer 200 on a running server with the same metrics settings.
        XCTAssertTrue(text.contains("path: /readyz") && text.contains("path: /healthz"))
        let server = try startEchoServer(["--metrics-port", "0"])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        let metricsPort = try XCTUnwrap(started.integer("metrics_port"))
        for path in ["/readyz", "/healthz"] {
            let client = try TestSocket(host: "127.0.0.1", port: UInt16(metricsPort))
            client.setReceiveTimeout(ms: 5000)
            try client.send(Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let head = String(decoding: try client.receive(exactly: 12), as: UTF8.self)
            XCTAssertEqual(head, "HTTP/1.1 200", path)
            client.close()
        }
    }
}

import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `trustctl echo-server` under Debian's `systemd-socket-activate` (SPEC §15): the
/// supervisor binds 127.0.0.1:P and [::1]:P, waits for a first connection and execs
/// trustctl in place with LISTEN_FDS=2; the server serves both sockets without `--port`.
final class SocketActivationTests: XCTestCase {
    private static let activator = "/usr/bin/systemd-socket-activate"

    /// A running activated server: its process and the port both listeners share.
    private func startActivated(_ options: [String]) throws -> (RunningTrustctl, UInt16, TrustctlTestEnvironment) {
        guard FileManager.default.isExecutableFile(atPath: Self.activator) else {
            throw TestSocketError("\(Self.activator) is missing: install Debian's systemd package (.ci/run does)")
        }
        let environment = try makeTrustctlEnvironment()
        // The supervisor gives its child only the variables named with -E.
        let passedOn = environment.variables.keys.sorted().flatMap { ["-E", $0] }
        // The port is picked free just before the supervisor binds it: retry if taken meanwhile.
        for _ in 0..<5 {
            let probe = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, nil)
            let port = UInt16(cnet_local_port(probe))
            _ = cnet_close(probe)
            let process = try startTrustctl(
                ["echo-server"] + options, environment: environment.variables,
                launcher: [Self.activator, "-l", "127.0.0.1:\(port)", "-l", "[::1]:\(port)"] + passedOn)
            if waitUntil(timeout: 10, { !process.isRunning || self.canConnect(port: port) }) && process.isRunning {
                return (process, port, environment)
            }
            process.kill()
        }
        throw TestSocketError("systemd-socket-activate did not start")
    }

    private func canConnect(port: UInt16) -> Bool {
        let fd = cnet_tcp_connect_host("127.0.0.1", port, 1000, 0)
        guard fd >= 0 else { return false }
        _ = cnet_close(fd)
        return true
    }

    func testServesBothInheritedListenersWithoutPort() throws {
        let (process, port, environment) = try startActivated(["--mode", "raw", "--metrics-port", "0"])
        let ready = try process.waitForReady(timeout: 30)
        XCTAssertEqual(ready.port, port)
        let v4 = try TestSocket(host: "127.0.0.1", port: port)
        defer { v4.close() }
        try v4.echoRaw(Array("over IPv4\n".utf8))
        let v6 = try TestSocket(host: "::1", port: port)
        defer { v6.close() }
        try v6.echoRaw(Array("over IPv6\n".utf8))

        let log = ServerLog(file: environment.trustHome.appendingPathComponent("logs/trustctl.log"))
        let started = try XCTUnwrap(log.waitForEntry(event: "server_started"))
        XCTAssertEqual(started.string("listeners"), "inherited")
        XCTAssertEqual(started.string("addresses"), "127.0.0.1:\(port),[::1]:\(port)")
        XCTAssertEqual(started.integer("port"), Int(port))
        XCTAssertNotNil(started.integer("metrics_port"), "the metrics endpoint binds its own socket")
        process.sendSignal(SIGTERM)
        XCTAssertEqual(try process.waitForExit(timeout: 30), 0, process.stderr)
        XCTAssertEqual(log.entries(event: "server_stopped").first?.integer("connections"), 3, "probe, v4, v6")
    }

    func testPortIsStillRequiredWithoutActivation() throws {
        let environment = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["echo-server", "--mode", "raw"], environment: environment.variables)
        XCTAssertEqual(result.exitCode, 64)
        XCTAssertEqual(result.stderrLines, ["missing required flag: --port"])
    }

    /// LISTEN_FDS naming a descriptor that is not a listening socket: one line, exit 78.
    func testInheritedDescriptorThatIsNotListeningIsAConfigError() throws {
        let environment = try makeTrustctlEnvironment()
        // Descriptor 3 in the child is whatever the harness leaves there, or nothing: never a
        // listener. LISTEN_PID must be the child's own pid, so a shell sets it before exec.
        let shell = try startTrustctl(
            ["echo-server", "--mode", "raw"], environment: environment.with(["LISTEN_FDS": "1"]),
            launcher: ["/bin/sh", "-c", "export LISTEN_PID=$$; exec \"$@\" 3</dev/null", "sh"])
        XCTAssertEqual(try shell.waitForExit(timeout: 30), 78, shell.stderr)
        XCTAssertTrue(shell.stderr.contains("inherited descriptor 3"), shell.stderr)
    }
}

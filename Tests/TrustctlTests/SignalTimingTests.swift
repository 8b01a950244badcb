import CNetShim
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// SPEC §5: SIGINT/SIGTERM work from the first instruction on, and a person
/// at a terminal is told what a first Ctrl-C is doing.
final class SignalTimingTests: XCTestCase {
    /// A server stuck in start-up (here: resolving `--host` through a DNS
    /// server that never answers) must still stop on Ctrl-C at once, not
    /// after the resolver gives up. Run in a private mount namespace whose
    /// /etc/resolv.conf names a silent UDP socket of this test.
    func testSigintDuringASlowNameLookupStopsTheServerAtOnce() throws {
        let silentDNS = try SilentUDPSocket(host: "127.0.0.9", port: 53)
        let environment = try makeTrustctlEnvironment()
        let resolvConf = environment.directory.appendingPathComponent("resolv.conf")
        try "nameserver 127.0.0.9\noptions timeout:15 attempts:2\n".write(
            to: resolvConf, atomically: true, encoding: .utf8)
        let server = try startTrustctl(
            ["echo-server", "--port", "0", "--host", "slow-lookup.trustctl-test"],
            environment: environment.variables,
            launcher: [
                "/usr/bin/unshare", "--mount", "/bin/sh", "-c",
                "mount --bind \"\(resolvConf.path)\" /etc/resolv.conf && exec \"$0\" \"$@\"",
            ])
        XCTAssertTrue(silentDNS.waitForQuery(timeout: 20), "the server should be asking the resolver by now")
        XCTAssertTrue(server.isRunning, "still waiting for an answer that never comes")
        let sent = Date()
        server.sendSignal(SIGINT)
        let status = try server.waitForExit(timeout: 10)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "Ctrl-C must not wait for the resolver's 30 s")
        XCTAssertNotEqual(status, 0, "stopped before it served: not a success (status \(status))")
    }

    /// On a terminal, the first Ctrl-C prints one line saying the drain runs
    /// and how to skip it; the drain then ends normally (exit 0).
    func testFirstCtrlCOnATerminalSaysWhatTheDrainIsWaitingFor() throws {
        let environment = try makeTrustctlEnvironment()
        let binary = try TrustctlProcess.binaryURL().path
        // Python's pty module gives the server a real terminal on stdout and
        // stderr; the script connects one client, sends SIGINT, and prints
        // everything the terminal showed, then the exit status.
        let script = """
            import os, pty, re, signal, socket, sys, time
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], [sys.argv[1], "echo-server", "--port", "0", "--host", "127.0.0.1"])
            seen = b""
            deadline = time.time() + 20
            while b"worker" not in seen and time.time() < deadline:
                seen += os.read(fd, 4096)
            port = int(re.search(rb":(\\d+) \\(", seen).group(1))
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"x")
            assert client.recv(1) == b"x"
            os.kill(pid, signal.SIGINT)
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(seen.decode(errors="replace"))
            sys.stdout.write("\\nstatus=%d\\n" % os.waitstatus_to_exitcode(status))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, binary]
        process.environment = environment.variables
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains("draining 1 connection; Ctrl-C again to quit"), text)
        XCTAssertTrue(text.contains("status=0"), text)
    }
}

/// A UDP socket that receives and never answers: a DNS server that hangs.
final class SilentUDPSocket {
    let fd: Int32

    init(host: String, port: UInt16) throws {
        var address = sockaddr_storage()
        var length = socklen_t(0)
        guard cnet_resolve(host, port, 1, &address, &length) == 0 else { throw TestSocketError("resolve \(host)") }
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0 else {
            throw TestSocketError("cannot bind UDP \(host):\(port) (errno \(errno)); this test runs as root")
        }
    }

    deinit { _ = cnet_close(fd) }

    /// True once a datagram (a query) arrived.
    func waitForQuery(timeout: Double) -> Bool {
        var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&poll, 1, Int32(timeout * 1000)) == 1
    }
}

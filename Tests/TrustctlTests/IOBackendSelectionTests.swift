import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// SPEC §18: `--io auto` falls back to epoll without a word where io_uring
/// cannot start; an explicit `--io io_uring` there is 69 saying why. The
/// refusal is real: an unprivileged user whose RLIMIT_MEMLOCK is 0 cannot
/// register the buffer ring (ENOMEM), as on many hosts and containers.
final class IOBackendSelectionTests: XCTestCase {
    /// Runs trustctl as user nobody with no lockable memory.
    private func refusedLauncher() -> [String] {
        ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/prlimit", "--memlock=0"]
    }

    private func environmentNobodyCanWrite() throws -> TrustctlTestEnvironment {
        let environment = try makeTrustctlEnvironment()
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: environment.directory.path)
        return environment
    }

    func testExplicitIOUringThatCannotStartIs69WithTheReason() throws {
        let environment = try environmentNobodyCanWrite()
        let server = try startTrustctl(
            ["echo-server", "--port", "0", "--host", "127.0.0.1", "--io", "io_uring"],
            environment: environment.variables, launcher: refusedLauncher())
        XCTAssertEqual(try server.waitForExit(timeout: 20), 69)
        let lines = server.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, server.stderr)
        XCTAssertTrue(server.stderr.contains("io_uring is not available"), server.stderr)
        XCTAssertTrue(server.stderr.contains("RLIMIT_MEMLOCK"), server.stderr)
    }

    func testAutoFallsBackToEpollSilentlyAndServes() throws {
        let environment = try environmentNobodyCanWrite()
        let process = try startTrustctl(
            ["echo-server", "--port", "0", "--host", "127.0.0.1", "--io", "auto"],
            environment: environment.variables, launcher: refusedLauncher())
        let ready = try process.waitForReady(timeout: 30)
        let server = EchoServerUnderTest(process: process, ready: ready, environment: environment)
        try server.connect().echoRaw(Array("served on epoll\n".utf8))
        XCTAssertEqual(try server.stop(), 0)
        XCTAssertEqual(server.process.stderr, "", "no word of the fallback on stderr")
        let started = try XCTUnwrap(server.log.entries(event: "server_started").first)
        XCTAssertEqual(started.string("io"), "epoll")
    }

    func testServerStartedNamesTheBackendAskedFor() throws {
        for backend in ["epoll", "io_uring"] {
            let server = try startEchoServer(["--io", backend])
            try server.connect().echoRaw(Array("hello \(backend)\n".utf8))
            XCTAssertEqual(try server.stop(), 0)
            XCTAssertEqual(server.log.entries(event: "server_started").first?.string("io"), backend)
        }
    }

    /// The load tester takes the same selection (SPEC §18): an explicit io_uring that
    /// cannot start is 69 with the reason before anything is sent; auto falls back and
    /// verifies every round trip on epoll; the JSON says which ran.
    func testLoadTesterSelectsItsBackendTheSameWay() throws {
        let server = try startEchoServer(["--workers", "1"])
        let environment = try environmentNobodyCanWrite()
        func run(_ io: String, launcher: [String]) throws -> TrustctlResult {
            let child = try startTrustctl(
                [
                    "echo-load-test", "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "20",
                    "--messages", "10", "--concurrency", "10", "--io", io, "--json",
                ], environment: environment.variables, launcher: launcher)
            let status = try child.waitForExit(timeout: 30)
            return TrustctlResult(exitCode: status, stdout: child.stdout, stderr: child.stderr)
        }
        let refused = try run("io_uring", launcher: refusedLauncher())
        XCTAssertEqual(refused.exitCode, 69, refused.stderr)
        XCTAssertEqual(refused.stderrLines.count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("io_uring is not available"), refused.stderr)
        XCTAssertEqual(refused.stdout, "")

        let fallback = try run("auto", launcher: refusedLauncher())
        XCTAssertEqual(fallback.exitCode, 0, fallback.stderr)
        XCTAssertEqual(fallback.stderr, "")
        XCTAssertTrue(fallback.stdout.contains(#""io":"epoll""#), fallback.stdout)
        XCTAssertTrue(fallback.stdout.contains(#""ok":200"#), fallback.stdout)

        for backend in ["epoll", "io_uring"] {
            let result = try run(backend, launcher: [])
            XCTAssertEqual(result.exitCode, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains(#""io":"\#(backend)""#), result.stdout)
            XCTAssertTrue(result.stdout.contains(#""ok":200"#), result.stdout)
        }
    }
}

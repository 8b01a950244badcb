import Foundation
import XCTest

/// Black-box: how every command resolves `--host` / HOST (SPEC §5, §7).
/// Each case runs trustctl in a private mount namespace with its own
/// /etc/hosts (and resolver files), so the results do not depend on this
/// machine's files or on any DNS server.
final class HostResolutionTests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
    }

    private func namespace(hosts: String = ResolverNamespace.debianHosts, dns: Bool = false) throws
        -> ResolverNamespace
    {
        try ResolverNamespace(in: env.directory, hosts: hosts, dns: dns)
    }

    // MARK: - Every address of a name (issue 9 item 1)

    /// SPEC §9 on stock Debian: localhost is [::1, 127.0.0.1], the server
    /// listens on its default host 0.0.0.0 (IPv4 only). The client's IPv6
    /// attempt is refused; it must go on to 127.0.0.1.
    func testEchoClientReachesIPv4ServerWhenLocalhostListsIPv6First() throws {
        let server = try startEchoServer(["--timeout", "30"], host: "0.0.0.0", environment: env)
        let result = try runTrustctl(
            ["echo-client", "localhost", "\(server.port)", "hello framed", "MSG_B"], environment: env.variables,
            in: try namespace())
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines, ["hello framed", "MSG_B"])
        XCTAssertEqual(result.stderr, "")

        let raw = try runTrustctl(
            ["echo-client", "localhost", "\(server.port)", "--raw", "raw test"], environment: env.variables,
            in: try namespace())
        XCTAssertEqual(raw.exitCode, 0, raw.stderr)
        XCTAssertEqual(raw.stdoutLines, ["raw test"])
    }

    /// The other way round: a server on ::1 only, hosts listing IPv4 first.
    /// IPv6 is tried first anyway; had it been refused, IPv4 would follow.
    func testEchoClientReachesIPv6OnlyServerWhateverTheHostsOrder() throws {
        let server = try startEchoServer(["--timeout", "30"], host: "::1", environment: env)
        let result = try runTrustctl(
            ["echo-client", "localhost", "\(server.port)", "over ipv6"], environment: env.variables,
            in: try namespace(hosts: "127.0.0.1 localhost\n::1 localhost\n"))
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines, ["over ipv6"])
    }

    /// The load tester picks, once, the address that accepts a connection
    /// and opens every connection to it: every round trip verified.
    func testLoadTestReachesIPv4ServerWhenLocalhostListsIPv6First() throws {
        let server = try startEchoServer(["--timeout", "30"], host: "0.0.0.0", environment: env)
        let result = try runTrustctl(
            [
                "echo-load-test", "--host", "localhost", "--port", "\(server.port)", "--clients", "5",
                "--messages", "3", "--concurrency", "5",
            ], environment: env.variables, in: try namespace())
        XCTAssertEqual(result.exitCode, 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
        XCTAssertTrue(result.stdout.contains("15/15 ok"), result.stdout)
    }

    /// When no address of the name accepts, the client says so with the
    /// last error: refused is 69 (SPEC §7).
    func testEchoClientWithEveryAddressRefusedExits69() throws {
        let server = try startEchoServer(host: "127.0.0.1", environment: env)
        let port = server.port
        XCTAssertEqual(try server.stop(), 0)
        let result = try runTrustctl(
            ["echo-client", "localhost", "\(port)", "x"], environment: env.variables, in: try namespace())
        assertOneLineFailure(
            result, exitCode: 69, containing: ["echo-client: cannot connect to localhost:\(port)", "ECONNREFUSED"])
    }

    // MARK: - The resolver's own error, exit 68 (issue 9 item 4)

    private static let unknownHost = "no-such-host.invalid"

    /// The three commands, each naming `host` where it takes one.
    private func everyCommand(host: String) -> [(name: String, arguments: [String])] {
        [
            ("echo-server", ["echo-server", "--host", host, "--port", "0"]),
            ("echo-client", ["echo-client", host, "9", "x"]),
            (
                "echo-load-test",
                ["echo-load-test", "--host", host, "--port", "9", "--clients", "1", "--messages", "1"]
            ),
        ]
    }

    func testUnknownHostExits68WithTheResolversReasonInEveryCommand() throws {
        for command in everyCommand(host: Self.unknownHost) {
            let result = try runTrustctl(command.arguments, environment: env.variables, in: try namespace())
            assertOneLineFailure(
                result, exitCode: 68,
                containing: [
                    "cannot resolve host '\(Self.unknownHost)': Name or service not known (EAI_NONAME)"
                ])
            XCTAssertFalse(result.stderr.contains("EADDRNOTAVAIL"), "\(command.name): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("--port"), "\(command.name): no port hint for a plain name")
        }
    }

    /// No resolver reachable (a temporary failure, EAI_AGAIN) is also 68,
    /// with that reason: the host could not be resolved, and the message
    /// tells the user why (docs/cnetshim.md).
    func testUnreachableResolverExits68WithTemporaryFailure() throws {
        for command in everyCommand(host: Self.unknownHost) {
            let result = try runTrustctl(command.arguments, environment: env.variables, in: try namespace(dns: true))
            assertOneLineFailure(
                result, exitCode: 68,
                containing: [
                    "cannot resolve host '\(Self.unknownHost)': Temporary failure in name resolution (EAI_AGAIN)"
                ])
        }
    }

    /// A port written into the host gets a hint naming where it goes.
    func testHostWithAPortGetsAHintWhereThePortGoes() throws {
        let cases: [(host: String, hint: String)] = [
            ("127.0.0.1:80", "the port goes in --port, not in the host"),
            ("localhost:9900", "the port goes in --port, not in the host"),
            ("[::1]:80", "write an IPv6 address without brackets, and the port in --port"),
            ("[::1]", "write an IPv6 address without brackets"),
        ]
        for (host, hint) in cases {
            for command in everyCommand(host: host) where command.name != "echo-client" {
                let result = try runTrustctl(command.arguments, environment: env.variables, in: try namespace())
                assertOneLineFailure(result, exitCode: 68, containing: ["cannot resolve host '\(host)'", hint])
            }
        }
        let client = try runTrustctl(
            ["echo-client", "127.0.0.1:9900", "9900", "x"], environment: env.variables, in: try namespace())
        assertOneLineFailure(
            client, exitCode: 68,
            containing: ["echo-client: cannot resolve host '127.0.0.1:9900'", "the port goes in the PORT argument"])
    }
}

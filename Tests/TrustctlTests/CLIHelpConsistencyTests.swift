import XCTest

/// Help screens (issue 9 item 13): what each says once, the same way.
final class CLIHelpConsistencyTests: XCTestCase {
    private func help(_ arguments: [String]) throws -> String {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(arguments + ["--help"], environment: env.variables)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        return result.stdout
    }

    /// The help entry of `option`: its first line and the indented lines after it.
    private func entry(_ option: String, in text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if lines.isEmpty {
                if line.hasPrefix("  \(option) ") || line == "  \(option)" { lines.append(line) }
            } else if line.hasPrefix("                          ") {
                lines.append(line)
            } else {
                break
            }
        }
        return lines.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    func testConfigShowDoesNotMarkPortRequired() throws {
        let text = try help(["config", "show"])
        XCTAssertFalse(text.lowercased().contains("required"), text)
        XCTAssertTrue(text.contains("[--port <port>]"), text)
        let server = try help(["echo-server"])
        XCTAssertTrue(server.contains("USAGE: trustctl echo-server --port <port> [--host <host>]"), server)
    }

    func testEachDefaultIsShownOnce() throws {
        let text = try help(["echo-load-test"])
        let concurrency = entry("--concurrency <n>", in: text)
        XCTAssertEqual(concurrency.components(separatedBy: "efault").count - 1, 1, concurrency)
        for (arguments, option) in [
            (["echo-server"], "--timeout <seconds>"), (["echo-client"], "--count <n>"),
            (["echo-load-test"], "--payload-size <bytes>"),
        ] {
            let found = entry(option, in: try help(arguments))
            XCTAssertEqual(found.components(separatedBy: "efault").count - 1, 1, found)
        }
    }

    func testPlaceholdersAreTheSameInEveryCommand() throws {
        let client = try help(["echo-client"])
        let loadTest = try help(["echo-load-test"])
        let server = try help(["echo-server"])
        for text in [client, loadTest] {
            XCTAssertTrue(text.contains("--payload-size <bytes>"), text)
            XCTAssertTrue(text.contains("--timeout <seconds>"), text)
            XCTAssertFalse(text.contains("<payload-size>"), text)
        }
        XCTAssertTrue(server.contains("--timeout <seconds>"), server)
        XCTAssertTrue(server.contains("--max-frame <bytes>"), server)
        XCTAssertTrue(server.contains("--host <host>"), server)
        XCTAssertTrue(loadTest.contains("--host <host>"), loadTest)
        XCTAssertTrue(client.contains("<host> <port>"), client)
    }

    /// `-h`, `--help` after other words and `help SUBCOMMAND` give the same screen.
    func testEveryRouteToHelpGivesTheSameText() throws {
        let env = try makeTrustctlEnvironment()
        let direct = try help(["echo-server"])
        for arguments in [
            ["echo-server", "--port", "0", "-h"], ["help", "echo-server"], ["echo-server", "--mode=x", "--help"],
        ] {
            let result = try TrustctlProcess.run(arguments, environment: env.variables)
            XCTAssertEqual(result.exitCode, 0, result.stderr)
            XCTAssertEqual(result.stdout, direct, arguments.joined(separator: " "))
        }
    }

    func testHelpNamesEveryDeclaredSettingWithItsEnvironmentVariable() throws {
        let text = try help(["echo-server"])
        for (flag, variable) in [
            ("--port", "TRUST_ECHO_PORT"), ("--host", "TRUST_ECHO_HOST"), ("--mode", "TRUST_ECHO_MODE"),
            ("--timeout", "TRUST_ECHO_TIMEOUT"), ("--max-frame", "TRUST_ECHO_MAX_FRAME"),
            ("--max-clients", "TRUST_ECHO_MAX_CLIENTS"), ("--workers", "TRUST_ECHO_WORKERS"),
            ("--drain-timeout", "TRUST_ECHO_DRAIN_TIMEOUT"), ("--log-level", "TRUST_LOG_LEVEL"),
        ] {
            let found = entry(flag, in: text)
            XCTAssertTrue(found.contains("Env: \(variable)."), "\(flag) lacks \(variable): \(found)")
        }
    }
}

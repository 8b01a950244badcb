import CNetShim
import Foundation
import XCTest

/// One number grammar and one range table in every command and layer
/// (SPEC §5; docs/configuration.md, "Numbers" and "Ranges").
final class CLINumberGrammarTests: XCTestCase {
    private var env: TrustctlTestEnvironment!

    override func setUpWithError() throws {
        env = try makeTrustctlEnvironment()
    }

    private func run(_ arguments: [String], environment: [String: String]? = nil) throws -> TrustctlResult {
        try TrustctlProcess.run(arguments, environment: environment ?? env.variables, timeout: 30)
    }

    func testSecondsReadTheSameAsFlagEnvironmentAndFile() throws {
        let accepted = ["1e3": "1000", "0.5": "0.5", "2.5E-1": "0.25", "604800": "604800", "0": "0", "0.001": "0.001"]
        for (text, shown) in accepted {
            let flag = parseConfigShow(try run(["config", "show", "--timeout", text]))
            XCTAssertEqual(flag["timeout"]?.value, shown, text)
            let fromEnv = parseConfigShow(
                try run(["config", "show"], environment: env.with(["TRUST_ECHO_TIMEOUT": text])))
            XCTAssertEqual(fromEnv["timeout"]?.value, shown, text)
            try env.writeConfig("{\"timeout\": \(text)}")
            XCTAssertEqual(parseConfigShow(try run(["config", "show"]))["timeout"]?.value, shown, text)
            try FileManager.default.removeItem(at: env.configFile)
        }
        let rejected = [
            "1e400": "is out of range", "1e-400": "is out of range", "-1": "is out of range",
            "604800.5": "is out of range", "0.0001": "is out of range", "inf": "is not a number",
            "nan": "is not a number", "0x10": "is not a number", "+1": "is not a number", "1 ": "is not a number",
        ]
        for (text, problem) in rejected {
            let range = "expected seconds 0 (none) or 0.001-604800"
            assertOneLineFailure(
                try run(["config", "show", "--timeout", text]), exitCode: 64,
                containing: ["--timeout: '\(text)' \(problem): \(range)"])
            assertOneLineFailure(
                try run(["config", "show"], environment: env.with(["TRUST_ECHO_TIMEOUT": text])), exitCode: 78,
                containing: ["timeout (from env TRUST_ECHO_TIMEOUT): '\(text)' \(problem): \(range)"])
        }
        for number in ["1e400", "1e-400", "-1", "604800.5"] {
            try env.writeConfig("{\"timeout\": \(number)}")
            assertOneLineFailure(
                try run(["config", "show"]), exitCode: 78,
                containing: ["timeout (from file \(env.configFile.path)): '\(number)' is out of range"])
        }
    }

    func testIntegersAreDigitsOnlyInEveryLayer() throws {
        for (text, problem) in ["1e3": "is not an integer", "2.0": "is not an integer", "-2": "is out of range"] {
            assertOneLineFailure(
                try run(["config", "show", "--workers", text]), exitCode: 64,
                containing: ["--workers: '\(text)' \(problem): expected integer 1-1024"])
            try env.writeConfig("{\"workers\": \(text)}")
            assertOneLineFailure(
                try run(["config", "show"]), exitCode: 78, containing: ["workers (from file", "'\(text)' \(problem)"])
        }
    }

    func testNegativeNumbersAreValuesNeverFlags() throws {
        let port = closedLoopbackPort()
        assertOneLineFailure(
            try run(["echo-client", "127.0.0.1", "-1", "x"]), exitCode: 64,
            containing: ["<port>: '-1' is out of range: expected port 1-65535"])
        assertOneLineFailure(
            try run(["echo-client", "127.0.0.1", "\(port)", "x", "--count", "-3"]), exitCode: 64,
            containing: ["--count: '-3' is out of range: expected integer 1-1000000"])
        assertOneLineFailure(
            try run([
                "echo-load-test", "--host", "127.0.0.1", "--port", "\(port)", "--clients", "1", "--messages", "-1",
            ]),
            exitCode: 64, containing: ["--messages: '-1' is out of range: expected integer 1-1000000000"])
        assertOneLineFailure(
            try run(["echo-server", "--port", "0", "--max-clients", "-5"]), exitCode: 64,
            containing: ["--max-clients: '-5' is out of range: expected integer 1-1000000"])
        // A negative-looking message is a message: it reaches the (closed) server.
        assertOneLineFailure(try run(["echo-client", "127.0.0.1", "\(port)", "-5"]), exitCode: 69)
    }

    func testValuesThatWouldTrapTheLoadTesterAreOutOfRange() throws {
        let port = closedLoopbackPort()
        let base = ["echo-load-test", "--host", "127.0.0.1", "--port", "\(port)", "--clients", "1", "--messages", "1"]
        for (flag, text, range) in [
            ("--rate", "1e-300", "round trips/s 0.001-100000000"),
            ("--connect-rate", "0.0000000001", "connections/s 0.001-100000000"),
            ("--rate", "1e400", "round trips/s 0.001-100000000"),
            ("--duration", "1e-300", "seconds 0.001-604800"),
            ("--timeout", "1e20", "seconds 0.001-604800"),
            ("--payload-size", "1e3", "bytes 0-16777216"),
        ] {
            assertOneLineFailure(
                try run(base + [flag, text]), exitCode: 64, containing: ["\(flag): '\(text)' is ", "expected \(range)"])
        }
        // The smallest rate is accepted and runs (the one connection is refused at once).
        assertOneLineFailure(try run(base + ["--rate", "1e-3"]), exitCode: 69)
    }

    func testOneMaximumForSecondsAcrossCommands() throws {
        let port = closedLoopbackPort()
        let client = ["echo-client", "127.0.0.1", "\(port)", "x", "--timeout"]
        let loadTest = [
            "echo-load-test", "--host", "127.0.0.1", "--port", "\(port)", "--clients", "1", "--messages", "1",
            "--timeout",
        ]
        for command in [client, loadTest] {
            assertOneLineFailure(
                try run(command + ["604800.5"]), exitCode: 64, containing: ["'604800.5' is out of range", "-604800"])
            // The maximum itself and exponents are accepted: the connection is refused, not the value.
            assertOneLineFailure(try run(command + ["6.048e5"]), exitCode: 69)
        }
        assertOneLineFailure(
            try run(["config", "show", "--drain-timeout", "604801"]), exitCode: 64,
            containing: [
                "--drain-timeout: '604801' is out of range: expected seconds 0 (close at once) or 0.001-604800"
            ])
    }

    func testMessagesQuoteTheTextAsTyped() throws {
        assertOneLineFailure(
            try run(["config", "show", "--max-frame", "00x1"]), exitCode: 64, containing: ["'00x1' is not a number"])
        let result = try run(["config", "show", "--mode", "raw\nframed"])
        assertOneLineFailure(result, exitCode: 64, containing: ["--mode: 'raw\\nframed' is not accepted"])
    }
}

extension XCTestCase {
    /// A loopback port nobody listens on: connecting to it is refused at once.
    func closedLoopbackPort() -> UInt16 {
        var port: UInt16 = 0
        let fd = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, &port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = cnet_close(fd)
        return port
    }
}

import XCTest

/// Layering through `config show`: flag > env > file > default, with origins;
/// bad values from env or file and malformed files are config errors (78).
final class CLIConfigTests: XCTestCase {
    func testPrecedenceFlagOverEnvOverFileOverDefault() throws {
        var env = try makeTrustctlEnvironment()
        try env.writeConfig(#"{"port": 1111, "mode": "raw", "timeout": 7}"#)
        env.variables["TRUST_ECHO_PORT"] = "2222"
        env.variables["TRUST_ECHO_MODE"] = "framed"
        let result = try TrustctlProcess.run(
            ["config", "show", "--port", "3333"], environment: env.variables)
        let rows = parseConfigShow(result)
        XCTAssertEqual(rows["port"]?.value, "3333")
        XCTAssertEqual(rows["port"]?.origin, "flag")
        XCTAssertEqual(rows["mode"]?.value, "framed")
        XCTAssertEqual(rows["mode"]?.origin, "env")
        XCTAssertEqual(rows["timeout"]?.value, "7")
        XCTAssertEqual(rows["timeout"]?.origin, "file")
        XCTAssertEqual(rows["max-frame"]?.value, "65536")
        XCTAssertEqual(rows["max-frame"]?.origin, "default")
    }

    func testConfigShowPrintsEverySettingOncePerLine() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(["config", "show"], environment: env.variables)
        let rows = parseConfigShow(result)
        XCTAssertEqual(
            result.stdoutLines.compactMap { $0.split(separator: " ").first.map(String.init) },
            [
                "port", "host", "mode", "timeout", "max-frame", "max-clients", "workers", "drain-timeout", "io",
                "metrics-port", "metrics-host", "proxy-protocol", "proxy-trusted", "transport", "udp-rate",
                "tls-cert", "tls-key", "tls-client-ca", "tls-handshake-timeout", "log-level",
            ])
        // No port anywhere: shown, not an error.
        XCTAssertEqual(rows["port"]?.value, "none")
        XCTAssertEqual(rows["port"]?.origin, "default")
        XCTAssertEqual(rows["host"]?.value, "0.0.0.0")
        XCTAssertEqual(rows["timeout"]?.value, "300")
        XCTAssertEqual(rows["log-level"]?.value, "info")
        XCTAssertGreaterThanOrEqual(Int(rows["workers"]?.value ?? "") ?? 0, 1)
    }

    func testEveryEnvironmentVariableIsRead() throws {
        var env = try makeTrustctlEnvironment()
        env.variables.merge(
            [
                "TRUST_ECHO_PORT": "9900", "TRUST_ECHO_HOST": "127.0.0.1", "TRUST_ECHO_MODE": "raw",
                "TRUST_ECHO_TIMEOUT": "0.5", "TRUST_ECHO_MAX_FRAME": "10", "TRUST_ECHO_MAX_CLIENTS": "3",
                "TRUST_ECHO_WORKERS": "2", "TRUST_ECHO_DRAIN_TIMEOUT": "0", "TRUST_LOG_LEVEL": "debug",
            ]
        ) { _, new in new }
        let rows = parseConfigShow(
            try TrustctlProcess.run(["config", "show"], environment: env.variables))
        let expected = [
            "port": "9900", "host": "127.0.0.1", "mode": "raw", "timeout": "0.5", "max-frame": "10",
            "max-clients": "3", "workers": "2", "drain-timeout": "0", "log-level": "debug",
        ]
        for (name, value) in expected {
            XCTAssertEqual(rows[name]?.value, value, name)
            XCTAssertEqual(rows[name]?.origin, "env", name)
        }
    }

    func testBadEnvironmentValueExits78NamingVariable() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["config", "show"], environment: env.with(["TRUST_ECHO_MODE": "x"]))
        assertOneLineFailure(
            result, exitCode: 78, containing: ["'x'", "TRUST_ECHO_MODE", "auto, raw or framed"])
    }

    func testBadEnvironmentPortExits78ForEchoServer() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["echo-server"], environment: env.with(["TRUST_ECHO_PORT": "99999"]))
        assertOneLineFailure(
            result, exitCode: 78, containing: ["'99999'", "TRUST_ECHO_PORT", "0-65535"])
    }

    func testFlagHidesBadEnvironmentValue() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["config", "show", "--mode", "raw"], environment: env.with(["TRUST_ECHO_MODE": "x"]))
        XCTAssertEqual(parseConfigShow(result)["mode"]?.origin, "flag")
    }

    func testBadFileValueExits78NamingFile() throws {
        let env = try makeTrustctlEnvironment()
        try env.writeConfig(#"{"max-frame": -5}"#)
        let result = try TrustctlProcess.run(["config", "show"], environment: env.variables)
        assertOneLineFailure(
            result, exitCode: 78, containing: ["'-5'", "max-frame", env.configFile.path])
    }

    func testMalformedConfigExits78NamingFile() throws {
        let env = try makeTrustctlEnvironment()
        try env.writeConfig(#"{"port": 9900,"#)
        let result = try TrustctlProcess.run(["config", "show"], environment: env.variables)
        assertOneLineFailure(result, exitCode: 78, containing: ["malformed", env.configFile.path])
    }

    func testMalformedConfigStopsEchoServerWith78() throws {
        let env = try makeTrustctlEnvironment()
        try env.writeConfig("port = 9900\n")
        let result = try TrustctlProcess.run(
            ["echo-server", "--port", "0"], environment: env.variables)
        assertOneLineFailure(result, exitCode: 78, containing: [env.configFile.path])
    }

    func testUnknownConfigKeyExits78NamingKey() throws {
        let env = try makeTrustctlEnvironment()
        try env.writeConfig(#"{"prot": 9900}"#)
        let result = try TrustctlProcess.run(["config", "show"], environment: env.variables)
        assertOneLineFailure(result, exitCode: 78, containing: ["'prot'", env.configFile.path])
    }

    func testMissingPortIsReadFromFile() throws {
        let env = try makeTrustctlEnvironment()
        try env.writeConfig(#"{"port": 9900, "host": "::1", "drain-timeout": 0.25}"#)
        let rows = parseConfigShow(
            try TrustctlProcess.run(["config", "show"], environment: env.variables))
        XCTAssertEqual(rows["port"]?.value, "9900")
        XCTAssertEqual(rows["port"]?.origin, "file")
        XCTAssertEqual(rows["host"]?.value, "::1")
        XCTAssertEqual(rows["drain-timeout"]?.value, "0.25")
    }
}

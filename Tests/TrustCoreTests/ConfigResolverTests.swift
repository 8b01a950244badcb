import Foundation
import Logging
import XCTest

@testable import TrustCore

/// Layering, origins and per-setting validation of `ConfigResolver`.
final class ConfigResolverTests: XCTestCase {
    private var home: TrustHome!

    override func setUpWithError() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("trustcore-config-\(UUID().uuidString)")
        home = TrustHome(path: directory.path)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    }

    private func writeConfig(_ json: String) throws {
        try home.create()
        try Data(json.utf8).write(to: URL(fileURLWithPath: home.configFilePath))
    }

    private func resolver(flags: [String: String] = [:], env: [String: String] = [:]) -> ConfigResolver {
        ConfigResolver(flags: flags, environment: env, trustHome: home)
    }

    /// The error a resolution throws; fails the test if it does not throw.
    private func resolutionError(
        _ resolver: ConfigResolver, file: StaticString = #filePath, line: UInt = #line
    ) -> TrustError? {
        do {
            _ = try resolver.effectiveSettings()
            XCTFail("expected an error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testDefaultsWhenNothingIsSet() throws {
        let settings = try resolver(flags: ["port": "0"]).resolveServerSettings()
        XCTAssertEqual(settings.configured(ServerSetting.port), ConfiguredValue(0, origin: .flag))
        XCTAssertEqual(settings.configured(ServerSetting.host), ConfiguredValue("0.0.0.0", origin: .default))
        XCTAssertEqual(settings.mode, .auto)
        XCTAssertEqual(settings.idleTimeout, 300)
        XCTAssertEqual(settings.maxFrame, 65536)
        XCTAssertEqual(settings.maxClients, 10000)
        XCTAssertEqual(settings.workers, ServerSetting.onlineProcessors)
        XCTAssertEqual(settings.drainTimeout, 5)
        XCTAssertEqual(settings.logLevel, .info)
        XCTAssertEqual(settings.origin(of: ServerSetting.logLevel), .default)
        XCTAssertEqual(settings, ServerSettings(port: 0))
    }

    func testFlagBeatsEnvBeatsFileBeatsDefault() throws {
        try writeConfig(#"{"port": 1111, "mode": "raw", "timeout": 7, "workers": 3}"#)
        let settings = try resolver(
            flags: ["port": "3333"],
            env: ["TRUST_ECHO_PORT": "2222", "TRUST_ECHO_MODE": "framed", "TRUST_ECHO_WORKERS": "2"]
        ).resolveServerSettings()
        XCTAssertEqual(settings.configured(ServerSetting.port), ConfiguredValue(3333, origin: .flag))
        XCTAssertEqual(settings.configured(ServerSetting.mode), ConfiguredValue(.framed, origin: .env))
        XCTAssertEqual(settings.configured(ServerSetting.workers), ConfiguredValue(2, origin: .env))
        XCTAssertEqual(settings.configured(ServerSetting.timeout), ConfiguredValue(7, origin: .file))
        XCTAssertEqual(settings.configured(ServerSetting.maxFrame), ConfiguredValue(65536, origin: .default))
    }

    func testEveryDeclarationIsDerivedAlike() {
        XCTAssertEqual(
            ServerSetting.all.map(\.name),
            [
                "port", "host", "mode", "timeout", "max-frame", "max-clients", "workers", "drain-timeout", "io",
                "metrics-port", "metrics-host", "proxy-protocol", "proxy-trusted", "transport", "udp-rate",
                "tls-cert", "tls-key", "tls-client-ca", "tls-handshake-timeout", "log-level",
            ])
        XCTAssertEqual(
            ServerSetting.all.map(\.environmentVariable),
            [
                "TRUST_ECHO_PORT", "TRUST_ECHO_HOST", "TRUST_ECHO_MODE", "TRUST_ECHO_TIMEOUT", "TRUST_ECHO_MAX_FRAME",
                "TRUST_ECHO_MAX_CLIENTS", "TRUST_ECHO_WORKERS", "TRUST_ECHO_DRAIN_TIMEOUT", "TRUST_ECHO_IO",
                "TRUST_ECHO_METRICS_PORT", "TRUST_ECHO_METRICS_HOST", "TRUST_ECHO_PROXY_PROTOCOL",
                "TRUST_ECHO_PROXY_TRUSTED", "TRUST_ECHO_TRANSPORT", "TRUST_ECHO_UDP_RATE",
                "TRUST_ECHO_TLS_CERT", "TRUST_ECHO_TLS_KEY", "TRUST_ECHO_TLS_CLIENT_CA",
                "TRUST_ECHO_TLS_HANDSHAKE_TIMEOUT", "TRUST_LOG_LEVEL",
            ])
        XCTAssertEqual(ServerSetting.maxFrame.flag, "--max-frame")
        XCTAssertEqual(ServerSetting.all.filter(\.isRequired).map(\.name), ["port"])
        // Every declared setting has a value in code-built settings (the typed accessors' cast holds).
        XCTAssertEqual(ServerSettings(port: 1).effectiveSettings.map(\.name), ServerSetting.all.map(\.name))
    }

    func testEmptyEnvironmentValueCountsAsUnset() throws {
        try writeConfig(#"{"mode": "raw"}"#)
        let settings = try resolver(flags: ["port": "1"], env: ["TRUST_ECHO_MODE": ""]).resolveServerSettings()
        XCTAssertEqual(settings.configured(ServerSetting.mode), ConfiguredValue(.raw, origin: .file))
    }

    func testMissingPortIsUsageErrorWithExactMessage() {
        XCTAssertThrowsError(try resolver().resolveServerSettings()) { error in
            let error = error as? TrustError
            XCTAssertEqual(error?.kind, .usage)
            XCTAssertEqual(error?.message, "missing required flag: --port")
            XCTAssertEqual(error?.exitStatus, .usage)
        }
    }

    func testEffectiveSettingsShowMissingPortAsNone() throws {
        let rows = try resolver().effectiveSettings()
        XCTAssertEqual(rows.map(\.name), ServerSetting.all.map(\.name))
        XCTAssertEqual(rows.first, EffectiveSetting(name: "port", value: "none", origin: .default))
    }

    func testBadFlagIsUsageErrorQuotingTextAndRange() {
        let error = resolutionError(resolver(flags: ["port": "abc"]))
        XCTAssertEqual(error?.kind, .usage)
        XCTAssertEqual(error?.message, "--port: 'abc' is not a number: expected port 0-65535")
        XCTAssertEqual(
            resolutionError(resolver(flags: ["timeout": "1e400"]))?.message,
            "--timeout: '1e400' is out of range: expected seconds 0 (none) or 0.001-604800")
    }

    func testBadEnvironmentValueIsConfigErrorNamingVariable() {
        let error = resolutionError(resolver(env: ["TRUST_ECHO_MODE": "x"]))
        XCTAssertEqual(error?.kind, .config)
        XCTAssertEqual(error?.exitStatus, .config)
        XCTAssertEqual(
            error?.message, "mode (from env TRUST_ECHO_MODE): 'x' is not accepted: expected auto, raw or framed")
    }

    func testBadFileValueIsConfigErrorNamingFile() throws {
        try writeConfig(#"{"log-level": "loud", "timeout": 1e-400}"#)
        let error = resolutionError(resolver())
        XCTAssertEqual(error?.kind, .config)
        XCTAssertEqual(
            error?.message,
            "timeout (from file \(home.configFilePath)): '1e-400' is out of range: "
                + "expected seconds 0 (none) or 0.001-604800")
    }

    func testFlagIsValidatedBeforeTheFileIsRead() throws {
        try writeConfig("{broken")
        XCTAssertEqual(resolutionError(resolver(flags: ["workers": "0"]))?.kind, .usage)
    }

    func testValueHiddenByHigherLayerIsNotChecked() throws {
        try writeConfig(#"{"mode": "nonsense"}"#)
        let settings = try resolver(flags: ["port": "1"], env: ["TRUST_ECHO_MODE": "raw"]).resolveServerSettings()
        XCTAssertEqual(settings.configured(ServerSetting.mode), ConfiguredValue(.raw, origin: .env))
    }

    func testResolvingCreatesTrustHome() throws {
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.path))
        _ = try resolver().effectiveSettings()
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: home.path, isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
    }

    func testCheckFlagsAcceptsAndRejects() {
        XCTAssertNoThrow(try ConfigResolver.checkFlags(["timeout": "0.5"]))
        XCTAssertThrowsError(try ConfigResolver.checkFlags(["timeout": "-1"])) { error in
            XCTAssertEqual((error as? TrustError)?.kind, .usage)
            XCTAssertEqual(
                (error as? TrustError)?.message,
                "--timeout: '-1' is out of range: expected seconds 0 (none) or 0.001-604800")
        }
        XCTAssertThrowsError(try ConfigResolver.checkFlags(["colour": "1"]))
    }

    func testCodeBuiltSettingsMarkSetValuesAsFlags() {
        var settings = ServerSettings(port: 0)
        settings[ServerSetting.mode] = .framed
        settings[ServerSetting.timeout] = 0.5
        XCTAssertEqual(settings.configured(ServerSetting.mode), ConfiguredValue(.framed, origin: .flag))
        XCTAssertEqual(settings.configured(ServerSetting.host), ConfiguredValue("0.0.0.0", origin: .default))
        XCTAssertEqual(settings.idleTimeoutDuration, .milliseconds(500))
        settings[ServerSetting.timeout] = 0
        XCTAssertNil(settings.idleTimeoutDuration)
        XCTAssertEqual(settings.drainTimeoutDuration, .seconds(5))
        XCTAssertNotEqual(settings, ServerSettings(port: 0))
    }

    func testConfigShowFormatAlignsColumns() {
        let lines = EffectiveSetting.format([
            EffectiveSetting(name: "port", value: "9900", origin: .flag),
            EffectiveSetting(name: "drain-timeout", value: "5", origin: .default),
        ])
        XCTAssertEqual(lines, ["port           9900  flag", "drain-timeout  5     default"])
    }
}

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

    private func resolver(flags: [EchoSetting: String] = [:], env: [String: String] = [:])
        -> ConfigResolver
    {
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
        let settings = try resolver(flags: [.port: "0"]).resolveServerSettings()
        XCTAssertEqual(settings.port, ConfiguredValue(0, origin: .flag))
        XCTAssertEqual(settings.host, ConfiguredValue("0.0.0.0", origin: .default))
        XCTAssertEqual(settings.mode, ConfiguredValue(.auto, origin: .default))
        XCTAssertEqual(settings.idleTimeout, ConfiguredValue(300, origin: .default))
        XCTAssertEqual(settings.maxFrame, ConfiguredValue(65536, origin: .default))
        XCTAssertEqual(settings.maxClients, ConfiguredValue(10000, origin: .default))
        XCTAssertEqual(settings.workers, ConfiguredValue(EchoSetting.defaultWorkers, origin: .default))
        XCTAssertEqual(settings.drainTimeout, ConfiguredValue(5, origin: .default))
        XCTAssertEqual(settings.logLevel, ConfiguredValue(Logger.Level.info, origin: .default))
        XCTAssertGreaterThanOrEqual(EchoSetting.defaultWorkers, 1)
    }

    func testFlagBeatsEnvBeatsFileBeatsDefault() throws {
        try writeConfig(#"{"port": 1111, "mode": "raw", "timeout": 7, "workers": 3}"#)
        let settings = try resolver(
            flags: [.port: "3333"],
            env: ["TRUST_ECHO_PORT": "2222", "TRUST_ECHO_MODE": "framed", "TRUST_ECHO_WORKERS": "2"]
        ).resolveServerSettings()
        XCTAssertEqual(settings.port, ConfiguredValue(3333, origin: .flag))
        XCTAssertEqual(settings.mode, ConfiguredValue(.framed, origin: .env))
        XCTAssertEqual(settings.workers, ConfiguredValue(2, origin: .env))
        XCTAssertEqual(settings.idleTimeout, ConfiguredValue(7, origin: .file))
        XCTAssertEqual(settings.maxFrame, ConfiguredValue(65536, origin: .default))
    }

    func testEnvironmentVariableNames() {
        XCTAssertEqual(EchoSetting.port.environmentVariable, "TRUST_ECHO_PORT")
        XCTAssertEqual(EchoSetting.maxFrame.environmentVariable, "TRUST_ECHO_MAX_FRAME")
        XCTAssertEqual(EchoSetting.maxClients.environmentVariable, "TRUST_ECHO_MAX_CLIENTS")
        XCTAssertEqual(EchoSetting.drainTimeout.environmentVariable, "TRUST_ECHO_DRAIN_TIMEOUT")
        XCTAssertEqual(EchoSetting.logLevel.environmentVariable, "TRUST_LOG_LEVEL")
        XCTAssertEqual(EchoSetting.maxFrame.flag, "--max-frame")
    }

    func testEmptyEnvironmentValueCountsAsUnset() throws {
        try writeConfig(#"{"mode": "raw"}"#)
        let settings = try resolver(flags: [.port: "1"], env: ["TRUST_ECHO_MODE": ""])
            .resolveServerSettings()
        XCTAssertEqual(settings.mode, ConfiguredValue(.raw, origin: .file))
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
        XCTAssertEqual(rows.map(\.setting), EchoSetting.allCases)
        XCTAssertEqual(rows.first, EffectiveSetting(setting: .port, value: "none", origin: .default))
    }

    func testBadFlagIsUsageErrorNamingFlagAndAcceptedValues() {
        let error = resolutionError(resolver(flags: [.port: "abc"]))
        XCTAssertEqual(error?.kind, .usage)
        XCTAssertEqual(
            error?.message, "invalid value 'abc' for --port (from flag): expected an integer 0-65535")
    }

    func testBadEnvironmentValueIsConfigErrorNamingVariable() {
        let error = resolutionError(resolver(env: ["TRUST_ECHO_MODE": "x"]))
        XCTAssertEqual(error?.kind, .config)
        XCTAssertEqual(error?.exitStatus, .config)
        XCTAssertEqual(
            error?.message,
            "invalid value 'x' for mode (from env TRUST_ECHO_MODE): expected auto, raw or framed")
    }

    func testBadFileValueIsConfigErrorNamingFile() throws {
        try writeConfig(#"{"log-level": "loud"}"#)
        let error = resolutionError(resolver())
        XCTAssertEqual(error?.kind, .config)
        XCTAssertEqual(
            error?.message,
            "invalid value 'loud' for log-level (from file \(home.configFilePath)): "
                + "expected trace, debug, info, notice, warning, error or critical")
    }

    func testFlagIsValidatedBeforeTheFileIsRead() throws {
        try writeConfig("{broken")
        XCTAssertEqual(resolutionError(resolver(flags: [.workers: "0"]))?.kind, .usage)
    }

    func testValueHiddenByHigherLayerIsNotChecked() throws {
        try writeConfig(#"{"mode": "nonsense"}"#)
        let settings = try resolver(flags: [.port: "1"], env: ["TRUST_ECHO_MODE": "raw"])
            .resolveServerSettings()
        XCTAssertEqual(settings.mode, ConfiguredValue(.raw, origin: .env))
    }

    func testResolvingCreatesTrustHome() throws {
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.path))
        _ = try resolver().effectiveSettings()
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: home.path, isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
    }

    func testValidateFlagAcceptsAndRejects() {
        XCTAssertNoThrow(try ConfigResolver.validateFlag(.timeout, "0.5"))
        XCTAssertThrowsError(try ConfigResolver.validateFlag(.timeout, "-1")) { error in
            XCTAssertEqual((error as? TrustError)?.kind, .usage)
            XCTAssertTrue((error as? TrustError)?.message.contains("--timeout") ?? false)
        }
    }

    func testCodeBuiltSettingsMarkGivenValuesAsFlags() {
        let settings = EchoServerSettings(port: 0, mode: .framed, idleTimeout: 0.5)
        XCTAssertEqual(settings.mode, ConfiguredValue(.framed, origin: .flag))
        XCTAssertEqual(settings.host, ConfiguredValue("0.0.0.0", origin: .default))
        XCTAssertEqual(settings.idleTimeoutDuration, .milliseconds(500))
        XCTAssertNil(EchoServerSettings(port: 0, idleTimeout: 0).idleTimeoutDuration)
        XCTAssertEqual(settings.drainTimeoutDuration, .seconds(5))
    }

    func testConfigShowFormatAlignsColumns() {
        let lines = EffectiveSetting.format([
            EffectiveSetting(setting: .port, value: "9900", origin: .flag),
            EffectiveSetting(setting: .drainTimeout, value: "5", origin: .default),
        ])
        XCTAssertEqual(lines, ["port           9900  flag", "drain-timeout  5     default"])
    }
}

import Foundation
import XCTest

/// The shipped deploy files pass their own tools' checks: `systemd-analyze verify` for the
/// units, `haproxy -c` for the balancer config (both from Debian packages .ci/run installs).
final class OpsDeployFilesTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testSystemdUnitsVerifyCleanly() throws {
        // The units name the installed binary; verify them with one that exists here.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "trustctl-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var paths: [String] = []
        for name in ["trustctl-echo.socket", "trustctl-echo.service"] {
            let text = try String(contentsOf: root.appendingPathComponent("deploy/systemd/\(name)"), encoding: .utf8)
            XCTAssertTrue(name.hasSuffix(".socket") || text.contains("ExecStart=/usr/local/bin/trustctl echo-server"))
            let target = directory.appendingPathComponent(name)
            try text.replacingOccurrences(of: "/usr/local/bin/trustctl", with: "/bin/true")
                .write(to: target, atomically: true, encoding: .utf8)
            paths.append(target.path)
        }
        let result = try ToolRunner.run("/usr/bin/systemd-analyze", ["verify"] + paths)
        let (status, output) = (result.status, result.output + result.errors)
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output, "", "systemd-analyze has no complaint")
    }

    func testHAProxyConfigIsValid() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["TRUSTCTL_FLEET_DIR"] = FileManager.default.temporaryDirectory.path
        environment["TRUSTCTL_FLEET_PORT"] = "19000"
        for index in 1...3 {
            environment["TRUSTCTL_ECHO\(index)_PORT"] = "1900\(index)"
            environment["TRUSTCTL_METRICS\(index)_PORT"] = "1910\(index)"
        }
        let config = root.appendingPathComponent("deploy/haproxy/trustctl.cfg").path
        let result = try ToolRunner.run("/usr/sbin/haproxy", ["-c", "-f", config], environment: environment)
        let (status, output) = (result.status, result.output + result.errors)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("Configuration file is valid"), output)
        XCTAssertFalse(output.contains("WARNING"), output)
    }
}

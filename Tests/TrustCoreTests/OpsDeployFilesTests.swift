import Foundation
import XCTest

/// The shipped deploy files pass their own tools' checks: `systemd-analyze verify` for the
/// units, `haproxy -c` for the balancer config (both from Debian packages .ci/run installs).
final class OpsDeployFilesTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

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
        let (status, output) = try run("/usr/bin/systemd-analyze", ["verify"] + paths)
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
        let (status, output) = try run("/usr/sbin/haproxy", ["-c", "-f", config], environment: environment)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("Configuration file is valid"), output)
        XCTAssertFalse(output.contains("WARNING"), output)
    }
}

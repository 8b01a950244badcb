import CNetShim
import Foundation
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// Black-box check with Debian's `systemd-socket-activate` (package systemd): it binds an
/// IPv4 and an IPv6 listener, waits for the first connection, then execs this test binary
/// again with LISTEN_FDS=2, LISTEN_PID and LISTEN_FDNAMES. The same test method plays both
/// parts: with `TRUSTCTL_ACTIVATION_PROBE` set it is the activated child and reports what
/// `InheritedListeners.takeFromEnvironment()` found; without it, it is the parent that runs
/// the supervisor and checks the report.
final class InheritedListenersActivationTests: XCTestCase {
    private static let probeVariable = "TRUSTCTL_ACTIVATION_PROBE"
    private static let activator = "/usr/bin/systemd-socket-activate"

    func testSystemdSocketActivateHandsOverIPv4AndIPv6Listeners() throws {
        if let report = ProcessInfo.processInfo.environment[Self.probeVariable] {
            try Self.runAsActivatedChild(reportPath: report)
            return
        }
        guard FileManager.default.isExecutableFile(atPath: Self.activator) else {
            return XCTFail("\(Self.activator) is missing: install Debian's systemd package (.ci/run does)")
        }
        var lastFailure = ""
        // The port is chosen free just before the supervisor binds it; retry if taken meanwhile.
        for _ in 0..<5 {
            let probe = try InheritedListenersTests.listeningSocket(family: AF_INET, host: "127.0.0.1")
            let port = UInt16(cnet_local_port(probe))
            close(probe)
            switch try activate(port: port) {
            case .success(let lines):
                XCTAssertEqual(
                    lines,
                    [
                        "listener 3 echo4 127.0.0.1:\(port) nonblocking cloexec",
                        "listener 4 echo6 [::1]:\(port) nonblocking cloexec",
                        "variables unset",
                        "accepted on 3",
                        "accepted on 4",
                    ])
                return
            case .failure(let message):
                lastFailure = message
            }
        }
        XCTFail("systemd-socket-activate did not start: \(lastFailure)")
    }

    private enum Outcome {
        case success([String])
        case failure(String)
    }

    private func activate(port: UInt16) throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "trustctl-activation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = directory.appendingPathComponent("report").path
        let stderrPath = directory.appendingPathComponent("stderr").path
        XCTAssertTrue(FileManager.default.createFile(atPath: stderrPath, contents: nil))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.activator)
        // The supervisor gives its child a fresh environment: pass on what this run needs
        // (under `make sanitize-*` the sanitizer options, e.g. detect_leaks=0 for XCTest).
        let passedOn = ["ASAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "LD_LIBRARY_PATH"]
            .compactMap { name in ProcessInfo.processInfo.environment[name].map { ["-E", "\(name)=\($0)"] } }
            .flatMap { $0 }
        process.arguments =
            [
                "-l", "127.0.0.1:\(port)", "-l", "[::1]:\(port)", "--fdname=echo4:echo6",
                "-E", "\(Self.probeVariable)=\(report)",
            ] + passedOn + [
                CommandLine.arguments[0],
                "TrustCoreTests.InheritedListenersActivationTests/testSystemdSocketActivateHandsOverIPv4AndIPv6Listeners",
            ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        func stderrText() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        // Ready when it says it listens on the second descriptor.
        let readyBy = Date().addingTimeInterval(15)
        while !stderrText().contains(" as 4.") {
            if !process.isRunning { return .failure(stderrText()) }
            guard Date() < readyBy else { return .failure("no listening line in 15 s: \(stderrText())") }
            usleep(20_000)
        }
        // The first connection makes it exec the child; the child accepts this one on fd 3.
        let client = cnet_tcp_connect_host("127.0.0.1", port, 5000, 0)
        XCTAssertGreaterThanOrEqual(client, 0, "connect to the activated IPv4 listener")
        defer { if client >= 0 { close(client) } }

        let exitBy = Date().addingTimeInterval(60)
        while process.isRunning {
            guard Date() < exitBy else { return .failure("the activated child did not finish in 60 s") }
            usleep(20_000)
        }
        let lines = ((try? String(contentsOfFile: report, encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
        XCTAssertEqual(process.terminationStatus, 0, "child exit; its stderr: \(stderrText())")
        return .success(lines)
    }

    /// The activated child: report the inherited listeners, then prove each is live by
    /// accepting a connection on it.
    private static func runAsActivatedChild(reportPath: String) throws {
        var lines: [String] = []
        defer { try? lines.joined(separator: "\n").write(toFile: reportPath, atomically: true, encoding: .utf8) }
        guard let listeners = try InheritedListeners.takeFromEnvironment() else {
            lines.append("not activated")
            return
        }
        for listener in listeners {
            let nonBlocking = fcntl(listener.descriptor, F_GETFL) & O_NONBLOCK != 0 ? "nonblocking" : "blocking"
            let closeOnExec = fcntl(listener.descriptor, F_GETFD) & FD_CLOEXEC != 0 ? "cloexec" : "inheritable"
            lines.append(
                "listener \(listener.descriptor) \(listener.name ?? "-") \(listener.localAddress) \(nonBlocking) \(closeOnExec)"
            )
        }
        let unset = InheritedListeners.variableNames.allSatisfy { getenv($0) == nil }
        lines.append(unset ? "variables unset" : "variables still set")
        for listener in listeners {
            var ownClient: Int32 = -1
            if listener.descriptor != 3 {
                // Only fd 3 has the parent's connection waiting; connect to the others here.
                ownClient = cnet_tcp_connect_host(
                    listener.localAddress.address.description, listener.localAddress.port, 5000, 0)
            }
            defer { if ownClient >= 0 { close(ownClient) } }
            let deadline = Date().addingTimeInterval(10)
            var accepted: Int32 = -1
            while accepted < 0 && Date() < deadline {
                accepted = cnet_accept(listener.descriptor, nil, nil)
                if accepted < 0 { usleep(5_000) }
            }
            if accepted >= 0 { close(accepted) }
            lines.append(
                accepted >= 0 ? "accepted on \(listener.descriptor)" : "nothing to accept on \(listener.descriptor)")
        }
    }
}

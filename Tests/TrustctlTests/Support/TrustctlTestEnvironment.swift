import Foundation
import XCTest

/// A fresh temporary directory per test and an environment built from
/// scratch: PATH and HOME from outside, TRUST_HOME pointing into the
/// temporary directory, and no other TRUST_* variable, so a developer's own
/// settings never leak into a test.
struct TrustctlTestEnvironment {
    /// The per-test scratch directory; removed at teardown.
    let directory: URL
    /// `directory/trust`; not created: trustctl creates it on first use.
    let trustHome: URL
    /// The variables passed to trustctl.
    var variables: [String: String]

    var configFile: URL { trustHome.appendingPathComponent("config.json") }

    /// The outer variables a child legitimately needs (PATH to run, locale,
    /// LLVM_PROFILE_FILE so coverage runs can count the child too).
    /// TRUST_ECHO_IO passes through so `make test IO=epoll|io_uring` runs every
    /// black-box server on the backend asked for.
    static let inheritedVariables = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "LLVM_PROFILE_FILE", "TRUST_ECHO_IO"]

    static func baseVariables() -> [String: String] {
        let outer = ProcessInfo.processInfo.environment
        var variables: [String: String] = [:]
        for name in inheritedVariables { variables[name] = outer[name] }
        return variables
    }

    /// Writes `config.json` (creating TRUST_HOME first).
    func writeConfig(_ text: String) throws {
        try FileManager.default.createDirectory(at: trustHome, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: configFile)
    }

    /// The variables with `extra` added (or replaced).
    func with(_ extra: [String: String]) -> [String: String] {
        variables.merging(extra) { _, new in new }
    }
}

extension XCTestCase {
    /// A new scratch directory and hermetic environment, removed at teardown.
    func makeTrustctlEnvironment() throws -> TrustctlTestEnvironment {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("trustctl-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock {
            try? FileManager.default.removeItem(at: directory)
        }
        let trustHome = directory.appendingPathComponent("trust", isDirectory: true)
        var variables = TrustctlTestEnvironment.baseVariables()
        variables["TRUST_HOME"] = trustHome.path
        return TrustctlTestEnvironment(directory: directory, trustHome: trustHome, variables: variables)
    }

    /// Starts a background trustctl that is SIGKILLed at teardown if still running.
    func startTrustctl(
        _ arguments: [String], environment: [String: String], launcher: [String] = []
    ) throws -> RunningTrustctl {
        let running = try TrustctlProcess.start(arguments, environment: environment, launcher: launcher)
        addTeardownBlock {
            running.kill()
        }
        return running
    }
}

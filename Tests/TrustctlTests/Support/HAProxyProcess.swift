import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real HAProxy (Debian's haproxy, which .ci/run installs) in the foreground (`-db`),
/// stopped by its PID with SIGTERM when `stop()` is called.
final class HAProxyProcess {
    static let path = "/usr/sbin/haproxy"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    private let process = Process()

    init(config: String, environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = ["-db", "-f", config]
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

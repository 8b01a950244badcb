#if canImport(Glibc)
    import Glibc
#endif

/// The directory trustctl keeps its state in: `$TRUST_HOME`, else `~/.trust`
/// (SPEC §4). It holds `config.json` and `logs/trustctl.log`, and is created,
/// with its parents, on first use.
public struct TrustHome: Sendable, Equatable {
    public static let environmentVariable = "TRUST_HOME"

    /// The directory, as given by `TRUST_HOME` or `$HOME/.trust`.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `TRUST_HOME` if set and not empty, else `$HOME/.trust`.
    /// Neither set: a cannot-create error (73) that says which variable to set.
    public static func locate(environment: [String: String]) throws(TrustError) -> TrustHome {
        if let home = environment[environmentVariable], !home.isEmpty {
            return TrustHome(path: home)
        }
        if let userHome = environment["HOME"], !userHome.isEmpty {
            return TrustHome(path: joined(userHome, ".trust"))
        }
        throw TrustError(
            kind: .cannotCreate,
            message: "cannot locate TRUST_HOME: neither TRUST_HOME nor HOME is set")
    }

    public var configFilePath: String { TrustHome.joined(path, "config.json") }
    public var logsDirectoryPath: String { TrustHome.joined(path, "logs") }
    public var logFilePath: String { TrustHome.joined(logsDirectoryPath, "trustctl.log") }

    /// Creates the directory and its missing parents (owner-only: it holds logs).
    public func create() throws(TrustError) {
        try TrustHome.makeDirectories(path, mode: 0o700, purpose: "TRUST_HOME")
    }

    /// Creates `$TRUST_HOME/logs` (and TRUST_HOME itself if needed).
    public func createLogsDirectory() throws(TrustError) {
        try create()
        try TrustHome.makeDirectories(logsDirectoryPath, mode: 0o700, purpose: "log directory")
    }

    /// `mkdir -p`, reporting the errno of the step that failed, so the user
    /// reads e.g. `ENOTDIR` when a parent is a regular file.
    static func makeDirectories(_ path: String, mode: mode_t, purpose: String) throws(TrustError) {
        // Each prefix ending before a "/" (skipping the root), then the path itself:
        // bounded by the number of components.
        var prefixes: [String] = []
        var current = ""
        for (index, component) in path.split(separator: "/", omittingEmptySubsequences: false)
            .enumerated()
        {
            current = index == 0 ? String(component) : current + "/" + component
            if !component.isEmpty, component != ".", component != ".." { prefixes.append(current) }
        }
        for prefix in prefixes {
            if mkdir(prefix, mode) == 0 { continue }
            let error = Errno(rawValue: errno)
            if error.rawValue == EEXIST, isDirectory(prefix) { continue }
            let reported = error.rawValue == EEXIST ? Errno(rawValue: ENOTDIR) : error
            throw TrustError(
                kind: .cannotCreate,
                message: "cannot create \(purpose) \(path): mkdir \(prefix): \(reported.description)",
                errno: reported,
                operation: "mkdir \(prefix)")
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    private static func joined(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

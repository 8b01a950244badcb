#if canImport(Glibc)
    import Glibc
#endif

/// `$TRUST_HOME/config.json`: one flat JSON object keyed by setting name,
/// e.g. `{"port": 9900, "mode": "raw", "max-frame": 65536}` (SPEC §4).
///
/// Strict (SPEC §5): the file must be a regular file (a FIFO, device,
/// socket or directory is refused without reading it, so nothing blocks),
/// strict JSON (`StrictJSON`), known keys only, each value of its setting's
/// JSON type (`"workers": "2"` and `"host": 5` are errors). Numbers are kept
/// as written and read with the same grammar as flags. A missing file is an
/// empty layer; a symbolic link to a missing file is an error.
struct ConfigFile {
    /// A file bigger than this is not a hand-written config of a few settings.
    static let maximumSize = 1 << 20

    let path: String
    /// Each key's value as text: a string's contents or a number as written.
    let values: [String: String]

    /// Reads and checks the file; an empty layer when it does not exist.
    static func load(path: String, settings: [any AnySetting]) throws(TrustError) -> ConfigFile {
        guard let bytes = try readIfPresent(path: path) else {
            return ConfigFile(path: path, values: [:])
        }
        return ConfigFile(path: path, values: try parse(bytes, path: path, settings: settings))
    }

    static func parse(_ bytes: [UInt8], path: String, settings: [any AnySetting]) throws(TrustError)
        -> [String: String]
    {
        let members: [StrictJSON.Member]
        switch StrictJSON.parseObject(bytes) {
        case .success(let parsed): members = parsed
        case .failure(let failure):
            let problem = failure.key.map { "\(failure.problem) '\(ValueProblem.visible($0))'" } ?? failure.problem
            throw .config("malformed config file \(path): line \(failure.line), column \(failure.column): \(problem)")
        }
        var values: [String: String] = [:]
        for member in members {
            guard let setting = settings.first(where: { $0.name == member.key }) else {
                let known = settings.map(\.name).joined(separator: ", ")
                throw .config(
                    "unknown key '\(ValueProblem.visible(member.key))' in config file \(path): expected one of \(known)"
                )
            }
            switch (member.value, setting.jsonType) {
            case (.number(let text), .number), (.string(let text), .string):
                values[setting.name] = text
            default:
                throw .config(
                    "\(setting.name) (from file \(path)): expected a JSON \(setting.jsonType.rawValue) "
                        + "(\(setting.accepted)), got \(member.value.kind)")
            }
        }
        return values
    }

    /// The file's bytes, or nil if there is no file.
    private static func readIfPresent(path: String) throws(TrustError) -> [UInt8]? {
        // O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOCTTY: a
        // terminal device must not become the controlling terminal.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            let error = Errno(rawValue: errno)
            if error.rawValue == ENOENT {
                if isSymbolicLink(path) {
                    throw .config("cannot read config file \(path): it is a symbolic link to a missing file")
                }
                return nil
            }
            if error.rawValue == ENXIO, let kind = fileKind(path: path) {
                throw notRegular(path, kind)
            }
            throw .config("cannot read config file \(path): \(error.description)")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw .config("cannot read config file \(path): \(Errno(rawValue: errno).description)")
        }
        if status.st_mode & S_IFMT != S_IFREG { throw notRegular(path, kindName(status.st_mode)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        // Bounded: stops at end of file, on an error, or past maximumSize.
        while bytes.count <= maximumSize {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 {
                let error = Errno(rawValue: errno)
                if error == .interrupted { continue }
                throw .config("cannot read config file \(path): \(error.description)")
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
        throw .config("malformed config file \(path): larger than \(maximumSize) bytes")
    }

    private static func notRegular(_ path: String, _ kind: String) -> TrustError {
        .config("cannot read config file \(path): it is \(kind), not a regular file")
    }

    private static func isSymbolicLink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    /// What `stat` says `path` is, for a file open refused (a socket gives ENXIO).
    private static func fileKind(path: String) -> String? {
        var status = stat()
        return stat(path, &status) == 0 ? kindName(status.st_mode) : nil
    }

    private static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }
}

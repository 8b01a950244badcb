#if canImport(Glibc)
    import Glibc
#endif

/// The log file's descriptor, owned by the log writer's thread: opening it
/// (regular files only, never blocking), appending whole lines, reopening.
///
/// A symbolic link is followed (log directories are often links into
/// `/var/log`); what it points to must be a regular file too. A dangling
/// link creates its target, as the shell's `>>` does.
struct LogFile {
    /// Why the path could not be opened as the log.
    enum OpenFailure: Error, Equatable {
        /// A system call failed (`ENOENT`, `EACCES`, ...).
        case system(Errno)
        /// The path names something other than a regular file.
        case notRegularFile(NonRegularKind)

        /// `ENOENT: No such file or directory`, `it is a FIFO, not a regular file`.
        var description: String {
            switch self {
            case .system(let errno): return errno.description
            case .notRegularFile(let kind): return "it is \(kind.phrase), not a regular file"
            }
        }
    }

    /// What a non-regular path is, in words (`"a FIFO"`) and as a log field
    /// value (`"fifo"`).
    enum NonRegularKind: String, Equatable {
        case directory, fifo, socket
        case characterDevice = "character_device"
        case blockDevice = "block_device"
        case other

        /// nil for a regular file.
        init?(mode: mode_t) {
            switch mode & S_IFMT {
            case S_IFREG: return nil
            case S_IFDIR: self = .directory
            case S_IFIFO: self = .fifo
            case S_IFSOCK: self = .socket
            case S_IFCHR: self = .characterDevice
            case S_IFBLK: self = .blockDevice
            default: self = .other
            }
        }

        var phrase: String {
            switch self {
            case .directory: return "a directory"
            case .fifo: return "a FIFO"
            case .socket: return "a socket"
            case .characterDevice: return "a character device"
            case .blockDevice: return "a block device"
            case .other: return "a special file"
            }
        }
    }

    let path: String
    private var descriptor: Int32
    /// A failed write left part of a line that could not be cut off; the
    /// next write starts with a newline so that the lines after it parse.
    private var tornTail = false

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Opens `path` for appending, creating it (mode 0644) if missing.
    ///
    /// Never blocks: `O_NONBLOCK` makes opening a FIFO without a reader fail
    /// (`ENXIO`) instead of waiting for one, and anything that is not a
    /// regular file is refused before it is used. `stat` first, so that a
    /// device is not even opened; `fstat` after, for a path swapped in
    /// between.
    static func open(_ path: String) -> Result<LogFile, OpenFailure> {
        if let kind = nonRegularKind(ofPath: path) { return .failure(.notRegularFile(kind)) }
        let descriptor = openForAppending(path)
        if descriptor < 0 {
            // ENXIO (a FIFO or socket), EISDIR: name what is there.
            if let kind = nonRegularKind(ofPath: path) { return .failure(.notRegularFile(kind)) }
            return .failure(.system(Errno(rawValue: descriptor)))
        }
        var status = stat()
        if fstat(descriptor, &status) != 0 {
            let failure = Errno(rawValue: errno)
            _ = Glibc.close(descriptor)
            return .failure(.system(failure))
        }
        if let kind = NonRegularKind(mode: status.st_mode) {
            _ = Glibc.close(descriptor)
            return .failure(.notRegularFile(kind))
        }
        // O_NONBLOCK means nothing for a regular file on Linux; cleared so
        // that it cannot mean something on another file system.
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        return .success(LogFile(path: path, descriptor: descriptor))
    }

    /// Opens the path again (after log rotation renamed the file). On
    /// failure the file stays the one it was, so no line is lost.
    mutating func reopen() -> OpenFailure? {
        switch Self.open(path) {
        case .success(let reopened):
            close()
            self = reopened
            return nil
        case .failure(let failure):
            return failure
        }
    }

    mutating func close() {
        if descriptor >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = -1
        }
    }

    /// Appends `lines` (each ending in `\n`) and returns how many of its bytes
    /// are in the file: all of them, or on a failed write (`ENOSPC`, `EFBIG`,
    /// `EIO`) the whole lines that fit, with its errno.
    ///
    /// Whole lines or nothing: a write that stops inside a line (the disk
    /// filled up after part of it) is cut back to the last complete line, so
    /// the file stays valid JSON lines and the next write starts on a line of
    /// its own.
    mutating func appendWholeLines(_ lines: [UInt8]) -> (bytesWritten: Int, failure: Errno?) {
        if tornTail {
            let newline: [UInt8] = [UInt8(ascii: "\n")]
            if let failure = newline.withUnsafeBytes({ Self.writeFully(descriptor, $0) }).failure {
                return (0, failure)
            }
            tornTail = false
        }
        let (written, failure) = lines.withUnsafeBytes { Self.writeFully(descriptor, $0) }
        guard let failure else { return (written, nil) }
        let whole = Self.endOfLastLine(in: lines, before: written)
        if whole < written && !cutTail(byteCount: written - whole) {
            tornTail = true
        }
        return (whole, failure)
    }

    /// Removes the last `byteCount` bytes this descriptor wrote, if nothing
    /// was appended after them (another process writing the same file).
    private func cutTail(byteCount: Int) -> Bool {
        // With O_APPEND the offset is the end of what this descriptor wrote.
        let end = lseek(descriptor, 0, SEEK_CUR)
        var status = stat()
        guard end >= byteCount, fstat(descriptor, &status) == 0, status.st_size == end else { return false }
        for _ in 0..<16 {
            if ftruncate(descriptor, end - off_t(byteCount)) == 0 { return true }
            if errno != EINTR { return false }
        }
        return false
    }

    /// The index just past the last `\n` in `bytes[..<count]`, or 0.
    private static func endOfLastLine(in bytes: [UInt8], before count: Int) -> Int {
        var index = min(count, bytes.count)
        while index > 0 {
            if bytes[index - 1] == UInt8(ascii: "\n") { return index }
            index -= 1
        }
        return 0
    }

    /// Writes all of `buffer`, usually in one `write` call; a regular file
    /// only takes less on a full disk, at the file size limit or on a signal.
    /// Returns the bytes written and, if it stopped early, why.
    /// Safe: every pointer passed to `write` is `base + offset` with
    /// `offset < buffer.count` and length `buffer.count - offset`.
    private static func writeFully(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) -> (
        written: Int, failure: Errno?
    ) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return (0, nil) }
        var offset = 0
        // Each successful round makes progress; the cap bounds a descriptor
        // that keeps being interrupted.
        var rounds = 0
        while offset < buffer.count {
            rounds += 1
            if rounds > 1000 { return (offset, Errno(rawValue: EIO)) }
            let written = write(descriptor, base + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return (offset, Errno(rawValue: written < 0 ? errno : EIO))
            }
        }
        return (offset, nil)
    }

    /// A descriptor or `-errno`.
    private static func openForAppending(_ path: String) -> Int32 {
        // EINTR is only possible on odd file systems; retry a few times.
        for _ in 0..<16 {
            let descriptor = Glibc.open(
                path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0o644)
            if descriptor >= 0 { return descriptor }
            if errno != EINTR { return -errno }
        }
        return -EINTR
    }

    /// What `path` (links followed) is when it exists and is not a regular
    /// file; nil for a regular file or a path that does not exist.
    private static func nonRegularKind(ofPath path: String) -> NonRegularKind? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return NonRegularKind(mode: status.st_mode)
    }
}

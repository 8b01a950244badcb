#if canImport(Glibc)
    import Glibc
#endif

/// stdout with its write errors seen (SPEC §5: writing stdout to a full
/// device is an I/O error, 74). `print` would buffer in stdio and drop the
/// error; every command (and a server's ready line) writes here instead and
/// `flush`es before it exits. Used from the main thread only.
public enum StandardOutput {
    /// A failed write: the command exits 74 with this one line.
    public struct WriteError: Error, Sendable {
        public let errno: Errno
        public var message: String {
            let why =
                errno.rawValue == EBADF ? "stdout is closed (\(errno.description))" : "stdout: \(errno.description)"
            return "cannot write output: \(why)"
        }
    }

    /// Bytes not yet written; flushed when large and by `flush`.
    nonisolated(unsafe) private static var pending: [UInt8] = []
    nonisolated(unsafe) private static var failure: WriteError?
    private static let bufferLimit = 64 * 1024

    /// On a terminal each line shows at once; elsewhere lines are batched.
    private static let isTerminal = isatty(STDOUT_FILENO) == 1

    /// Queues `text` and a newline. A write error is kept for `flush`.
    public static func line(_ text: String) {
        pending.append(contentsOf: text.utf8)
        pending.append(UInt8(ascii: "\n"))
        if isTerminal || pending.count >= bufferLimit { try? flush() }
    }

    /// Writes everything queued; throws the first write error seen, now or earlier.
    public static func flush() throws(WriteError) {
        if let failure { throw failure }
        var offset = 0
        // Bounded: each pass writes at least one byte or ends with an error.
        while offset < pending.count {
            let written = writeBytes(from: offset)
            if written < 0 {
                if errno == EINTR { continue }
                let error = WriteError(errno: Errno(rawValue: errno))
                failure = error
                pending.removeAll()
                throw error
            }
            offset += written
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// write(2) from `pending`: the pointer is valid for the call and
    /// `count` bytes from `offset` lie inside the array.
    private static func writeBytes(from offset: Int) -> Int {
        pending.withUnsafeBytes { buffer in
            write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
        }
    }

    /// Makes sure descriptors 0, 1 and 2 are open, before anything else
    /// opens a file: with stdout closed (`>&-`), the next file opened would
    /// become descriptor 1 and receive the output. A closed stdout or
    /// stderr is replaced by /dev/null opened read-only, so writing to it
    /// still fails (EBADF, exit 74) instead of going somewhere else.
    public static func reserveStandardDescriptors() {
        for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) < 0 && errno == EBADF {
            let opened = open("/dev/null", O_RDONLY)
            if opened >= 0 && opened != descriptor {
                _ = dup2(opened, descriptor)
                _ = close(opened)
            }
        }
    }
}

import Glibc

/// Reads a /proc file whole. Foundation's String(contentsOfFile:) stops after
/// the first page of a proc file (they report size 0), and /proc/net/tcp on
/// a busy machine is many pages long.
enum ProcFile {
    static func read(_ path: String, limit: Int = 64 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while contents.count < limit {
            // Safe: read writes at most chunk.count bytes into chunk.
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            contents.append(contentsOf: chunk.prefix(n))
        }
        return String(decoding: contents, as: UTF8.self)
    }
}

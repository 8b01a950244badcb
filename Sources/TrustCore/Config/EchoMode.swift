/// How the echo server treats the bytes of a connection (SPEC §6).
public enum EchoMode: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The first byte of each connection decides: `0x00` means framed, anything else raw.
    case auto
    /// RFC 862: every byte is echoed unmodified.
    case raw
    /// 4-byte big-endian length followed by that many payload bytes, echoed frame by frame.
    case framed

    public var description: String { rawValue }
}

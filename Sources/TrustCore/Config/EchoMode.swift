/// How a connection's bytes are interpreted (SPEC §6).
public enum EchoMode: String, Sendable, CaseIterable {
    /// The first byte decides: 0x00 means framed, anything else raw.
    case auto
    /// RFC 862: every byte is echoed unmodified.
    case raw
    /// 4-byte big-endian length prefix, then the payload.
    case framed
}

// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// Why the bytes at the start of a connection are not a valid PROXY header. A plain enum so
/// that a verdict never allocates; `description` is the reason a log line carries.
public enum ProxyHeaderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The first bytes are not `PROXY ` (v1) or the 12-byte v2 signature, as the mode allows.
    case missingHeader
    /// No CRLF within the 107 bytes a v1 line may take.
    case v1LineTooLong
    /// A CR not followed by LF, or an LF without the CR before it.
    case v1BadLineEnd
    /// The protocol field is not `TCP4`, `TCP6` or `UNKNOWN`.
    case v1UnknownProtocol
    /// The fields are not exactly `PROXY TCPn SOURCE DESTINATION SPORT DPORT`, single-spaced.
    case v1BadFieldLayout
    /// An address is not valid text for the header's family.
    case v1BadAddress
    /// A port is not a decimal 0...65535 without leading zeros.
    case v1BadPort
    /// The v2 version nibble is not 2.
    case v2BadVersion
    /// The v2 command nibble is neither LOCAL (0) nor PROXY (1).
    case v2BadCommand
    /// The v2 family nibble is above AF_UNIX (3) or the transport nibble above DGRAM (2).
    case v2BadFamily
    /// The v2 header declares more bytes than the receiver accepts.
    case v2TooLong(declared: Int, limit: Int)
    /// The v2 length is smaller than the address block of the declared family.
    case v2AddressTooShort
    /// A v2 TLV is cut short or runs past the end of the header.
    case v2BadTLV

    public var description: String {
        switch self {
        case .missingHeader: return "the connection does not begin with a PROXY header"
        case .v1LineTooLong: return "PROXY v1 line has no CRLF within 107 bytes"
        case .v1BadLineEnd: return "PROXY v1 line has a CR or LF that is not part of CRLF"
        case .v1UnknownProtocol: return "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"
        case .v1BadFieldLayout:
            return "PROXY v1 line is not 'PROXY TCPn SOURCE DESTINATION SPORT DPORT' with single spaces"
        case .v1BadAddress: return "PROXY v1 address is not a valid address of the declared family"
        case .v1BadPort: return "PROXY v1 port is not a decimal number 0-65535 without leading zeros"
        case .v2BadVersion: return "PROXY v2 version is not 2"
        case .v2BadCommand: return "PROXY v2 command is neither LOCAL nor PROXY"
        case .v2BadFamily: return "PROXY v2 address family or transport is not defined by the spec"
        case .v2TooLong(let declared, let limit):
            return "PROXY v2 header declares \(declared) bytes, more than the limit of \(limit)"
        case .v2AddressTooShort: return "PROXY v2 length is shorter than the address block of its family"
        case .v2BadTLV: return "PROXY v2 TLV runs past the end of the header"
        }
    }
}

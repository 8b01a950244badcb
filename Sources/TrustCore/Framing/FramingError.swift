// Pure Swift on purpose: the Framing folder is compiled alone into the fuzzer,
// so it imports nothing (no Foundation, no other TrustCore pieces).

/// Why a framed byte stream was rejected.
public enum FramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A frame header declared a payload longer than the configured maximum.
    case frameTooLarge(declared: UInt32, max: UInt32)

    public var description: String {
        switch self {
        case .frameTooLarge(let declared, let max):
            return "frame declares \(declared) bytes, more than the maximum of \(max)"
        }
    }
}

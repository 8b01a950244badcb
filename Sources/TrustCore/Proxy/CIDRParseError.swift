// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// Why a CIDR block or a list of them (`--proxy-trusted`) was rejected. The caller wraps it
/// with the setting's name and origin (a usage error for a flag, a config error otherwise).
public struct CIDRParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text that was rejected.
    public let text: String
    /// What is wrong with it, as a clause: "the prefix length must be 0 to 32".
    public let problem: String

    public init(text: String, problem: String) {
        self.text = text
        self.problem = problem
    }

    /// `'10.0.0.1/8' is not a valid CIDR block: it has host bits set ...`
    public var description: String { "'\(text)' is not a valid CIDR block: \(problem)" }
}

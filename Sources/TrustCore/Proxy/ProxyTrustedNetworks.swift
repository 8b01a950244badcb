// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// The peers allowed to send a PROXY header (`--proxy-trusted CIDR,...`). A connection from
/// anywhere else is closed even if its header is valid: trusting a header from anyone would
/// let any client choose the address it is logged under.
public struct ProxyTrustedNetworks: Sendable, Hashable, CustomStringConvertible {
    public let blocks: [CIDRBlock]

    /// Loopback only (127.0.0.0/8 and ::1/128): a balancer on the same machine.
    public static let loopback = ProxyTrustedNetworks(blocks: [.ipv4Loopback, .ipv6Loopback])

    /// The default text of `--proxy-trusted`.
    public static let defaultText = "127.0.0.0/8,::1/128"

    public init(blocks: [CIDRBlock]) {
        self.blocks = blocks
    }

    /// Parses a comma-separated list such as `127.0.0.0/8, 10.1.0.0/16,::1`; spaces around an
    /// item are ignored, an empty item or an empty list is an error.
    public init(parsing text: String) throws(CIDRParseError) {
        var blocks: [CIDRBlock] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = item.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()
            let entry = String(trimmed)
            guard !entry.isEmpty else {
                throw CIDRParseError(
                    text: text, problem: "an empty entry; expected a comma-separated list of CIDR blocks")
            }
            blocks.append(try CIDRBlock(entry))
        }
        self.blocks = blocks
    }

    /// True when `peer` (an IPv4-mapped IPv6 peer counts as IPv4) lies in one of the blocks.
    public func contains(_ peer: IPAddress) -> Bool {
        blocks.contains { $0.contains(peer) }
    }

    /// The list as it would be given on the command line.
    public var description: String { blocks.map(\.description).joined(separator: ",") }
}

// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// A block of addresses such as `10.0.0.0/8` or `fd00::/8`.
///
/// IPv4-mapped IPv6 blocks (`::ffff:10.0.0.0/104`) are stored as the IPv4 block they name,
/// and `contains` unmaps a mapped peer, so a dual-stack socket's IPv4 peers match IPv4 blocks.
public struct CIDRBlock: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the block (host bits are zero).
    public let network: IPAddress
    /// Leading bits that must match: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    public static let ipv4Loopback = CIDRBlock(uncheckedNetwork: .v4(0x7F00_0000), prefixLength: 8)
    public static let ipv6Loopback = CIDRBlock(uncheckedNetwork: .ipv6Loopback, prefixLength: 128)

    private init(uncheckedNetwork network: IPAddress, prefixLength: Int) {
        self.network = network
        self.prefixLength = prefixLength
    }

    /// A block from its network address and prefix length.
    ///
    /// Throws when the prefix is out of range for the family or the address has bits set
    /// past the prefix (`10.0.0.1/8` is almost always a typo for `10.0.0.0/8` or `/32`).
    public init(network: IPAddress, prefixLength: Int) throws(CIDRParseError) {
        let text = "\(network)/\(prefixLength)"
        var address = network
        var length = prefixLength
        let width = Self.width(of: network)
        guard length >= 0, length <= width else {
            throw CIDRParseError(text: text, problem: "the prefix length must be 0 to \(width)")
        }
        if let mapped = network.ipv4Mapped, length >= 96 {
            address = .v4(mapped)
            length -= 96
        }
        guard Self.masked(address, length) == address else {
            let suggestion = CIDRBlock(uncheckedNetwork: Self.masked(address, length), prefixLength: length)
            throw CIDRParseError(
                text: text, problem: "it has host bits set past the prefix (the block is \(suggestion))")
        }
        self.network = address
        self.prefixLength = length
    }

    /// Parses `ADDRESS/PREFIX`, or a bare address meaning that one host (/32 or /128).
    public init(_ text: String) throws(CIDRParseError) {
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else {
            throw CIDRParseError(
                text: text, problem: "expected an IPv4 or IPv6 address, optionally followed by /PREFIX")
        }
        var length = Self.width(of: address)
        if parts.count == 2 {
            guard let (value, end) = IPAddress.decimal(parts[1].utf8.span, from: 0, maximum: 999),
                end == parts[1].utf8.count
            else {
                throw CIDRParseError(text: text, problem: "the prefix length is not a plain decimal number")
            }
            length = Int(value)
        }
        do {
            try self.init(network: address, prefixLength: length)
        } catch {
            throw CIDRParseError(text: text, problem: error.problem)
        }
    }

    /// True when `address` (unmapped if IPv4-mapped) lies in this block.
    public func contains(_ address: IPAddress) -> Bool {
        let candidate = address.unmapped
        switch (candidate, network) {
        case (.v4, .v4), (.v6, .v6): return Self.masked(candidate, prefixLength) == network
        default: return false
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }

    private static func width(of address: IPAddress) -> Int {
        if case .v4 = address { return 32 }
        return 128
    }

    /// `address` with every bit past the first `length` cleared.
    private static func masked(_ address: IPAddress, _ length: Int) -> IPAddress {
        switch address {
        case .v4(let value):
            let mask: UInt32 = length == 0 ? 0 : ~0 << UInt32(32 - length)
            return .v4(value & mask)
        case .v6(let high, let low):
            let highMask: UInt64 = length == 0 ? 0 : length >= 64 ? ~0 : ~0 << UInt64(64 - length)
            let lowMask: UInt64 = length <= 64 ? 0 : length == 128 ? ~0 : ~0 << UInt64(128 - length)
            return .v6(high: high & highMask, low: low & lowMask)
        }
    }
}

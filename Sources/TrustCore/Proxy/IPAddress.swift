// Pure Swift on purpose: the Proxy folder (but IPAddress+SocketAddress.swift) is compiled
// alone into the PROXY-protocol fuzzer, so it imports nothing.

/// An IPv4 or IPv6 address, held as plain integers so that it is cheap to copy, compare and
/// store in a connection (no allocation, no socket structure).
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address, most significant byte first (192.0.2.1 is 0xC000_0201).
    case v4(UInt32)
    /// An IPv6 address as two big-endian halves: `high` holds bytes 0-7, `low` bytes 8-15.
    case v6(high: UInt64, low: UInt64)

    public static let ipv4Loopback = IPAddress.v4(0x7F00_0001)
    public static let ipv6Loopback = IPAddress.v6(high: 0, low: 1)

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), or nil.
    public var ipv4Mapped: UInt32? {
        guard case .v6(let high, let low) = self, high == 0, low >> 32 == 0xFFFF else { return nil }
        return UInt32(truncatingIfNeeded: low)
    }

    /// The address with an IPv4-mapped IPv6 address turned into its IPv4 address, so that a
    /// dual-stack socket's peer compares equal to the same peer on an IPv4 socket.
    public var unmapped: IPAddress {
        if let mapped = ipv4Mapped { return .v4(mapped) }
        return self
    }

    /// The 16 bytes of an IPv6 address or the 4 of an IPv4 address, in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) }
        case .v6(let high, let low):
            return (0..<16).map { index in
                let half = index < 8 ? high : low
                return UInt8(truncatingIfNeeded: half >> (56 - 8 * UInt64(index % 8)))
            }
        }
    }

    /// An IPv6 address from its 16 network-order bytes.
    ///
    /// - Precondition: `bytes.count == 16`.
    public init(ipv6Bytes bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self = .v6(high: high, low: low)
    }

    // MARK: text

    /// Dotted-quad IPv4 or RFC 5952 IPv6 text: `192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`.
    public var description: String {
        switch self {
        case .v4(let value):
            return Self.dottedQuad(value)
        case .v6:
            return ipv6Text()
        }
    }

    /// Parses an IPv4 (`a.b.c.d`) or IPv6 literal, without brackets or zone.
    public init?(_ text: String) {
        guard let parsed = Self.parse(text.utf8.span) else { return nil }
        self = parsed
    }

    /// Parses IPv4 text when it has a dot and no colon, IPv6 text otherwise.
    static func parse(_ text: Span<UInt8>) -> IPAddress? {
        var hasColon = false
        for index in text.indices where text[index] == UInt8(ascii: ":") {
            hasColon = true
            break
        }
        if hasColon { return parseIPv6(text) }
        return parseIPv4(text).map { .v4($0) }
    }

    /// Exactly four decimal numbers 0...255 separated by single dots, without leading zeros
    /// (HAProxy's spec forbids them: they could be read as octal).
    static func parseIPv4(_ text: Span<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var index = 0
        while index < text.count {
            guard let (octet, next) = decimal(text, from: index, maximum: 255) else { return nil }
            value = value << 8 | UInt32(octet)
            octets += 1
            index = next
            if index < text.count {
                guard octets < 4, text[index] == UInt8(ascii: ".") else { return nil }
                index += 1
                guard index < text.count else { return nil }
            }
        }
        return octets == 4 ? value : nil
    }

    /// IPv6 text as inet_pton(3) reads it: up to eight groups of 1-4 hex digits, one `::`
    /// standing for one or more zero groups, and optionally a dotted IPv4 address as the last
    /// 32 bits (`::ffff:192.0.2.1`, which is how HAProxy writes a mapped peer).
    static func parseIPv6(_ text: Span<UInt8>) -> IPAddress? {
        var groups = InlineArray<8, UInt16>(repeating: 0)
        var groupCount = 0
        var gapAt: Int? = nil
        var index = 0
        let count = text.count
        guard count >= 2 else { return nil }
        if text[0] == UInt8(ascii: ":") {
            guard text[1] == UInt8(ascii: ":") else { return nil }
            gapAt = 0
            index = 2
        }
        while index < count {
            guard groupCount < 8 else { return nil }
            // A dotted IPv4 tail: the rest of the text, worth two groups.
            if let tail = dottedTail(text, from: index) {
                guard groupCount <= 6 else { return nil }
                groups[groupCount] = UInt16(truncatingIfNeeded: tail >> 16)
                groups[groupCount + 1] = UInt16(truncatingIfNeeded: tail)
                groupCount += 2
                index = count
                break
            }
            var group: UInt16 = 0
            var digits = 0
            while index < count, let nibble = hexValue(text[index]) {
                guard digits < 4 else { return nil }
                group = group << 4 | UInt16(nibble)
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            groups[groupCount] = group
            groupCount += 1
            if index == count { break }
            guard text[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            guard index < count else { return nil }  // a trailing single colon
            if text[index] == UInt8(ascii: ":") {
                guard gapAt == nil else { return nil }
                gapAt = groupCount
                index += 1
            }
        }
        var full = InlineArray<8, UInt16>(repeating: 0)
        if let gapAt {
            // `::` must stand for at least one zero group.
            guard groupCount <= 7 else { return nil }
            let shift = 8 - groupCount
            for position in 0..<groupCount {
                full[position < gapAt ? position : position + shift] = groups[position]
            }
        } else {
            guard groupCount == 8 else { return nil }
            full = groups
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for position in 0..<4 { high = high << 16 | UInt64(full[position]) }
        for position in 4..<8 { low = low << 16 | UInt64(full[position]) }
        return .v6(high: high, low: low)
    }

    /// The dotted IPv4 address from `start` to the end of `text`, if that is what is there.
    private static func dottedTail(_ text: Span<UInt8>, from start: Int) -> UInt32? {
        var index = start
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: ".") { return parseIPv4(text.extracting(start..<text.count)) }
            if byte == UInt8(ascii: ":") { return nil }
            index += 1
        }
        return nil
    }

    /// A decimal number without a leading zero (but "0" itself), at most `maximum`, starting at
    /// `start`; returns it and the index after its last digit.
    static func decimal(_ text: Span<UInt8>, from start: Int, maximum: UInt32) -> (UInt32, Int)? {
        var value: UInt32 = 0
        var index = start
        while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
            if index > start && text[start] == UInt8(ascii: "0") { return nil }
            value = value * 10 + UInt32(text[index] - UInt8(ascii: "0"))
            guard value <= maximum else { return nil }
            index += 1
        }
        return index > start ? (value, index) : nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func dottedQuad(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups (the
    /// first of equal runs) as `::`, and IPv4-mapped addresses with a dotted tail.
    private func ipv6Text() -> String {
        guard case .v6(let high, let low) = self else { return description }
        if let mapped = ipv4Mapped { return "::ffff:" + Self.dottedQuad(mapped) }
        var groups = [UInt16](repeating: 0, count: 8)
        for position in 0..<4 {
            groups[position] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(position)))
            groups[position + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(position)))
        }
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for position in 0...8 {
            if position < 8 && groups[position] == 0 {
                if runStart < 0 { runStart = position }
            } else if runStart >= 0 {
                if position - runStart > bestLength {
                    bestStart = runStart
                    bestLength = position - runStart
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

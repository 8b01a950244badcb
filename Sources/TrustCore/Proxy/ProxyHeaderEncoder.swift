// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// One v2 type-length-value extension (PP2_TYPE_ALPN 0x01, PP2_TYPE_AUTHORITY 0x02, ...).
public struct ProxyTLV: Sendable, Hashable {
    public var type: UInt8
    /// At most 65535 bytes.
    public var value: [UInt8]

    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }

    public static let noop: UInt8 = 0x04
}

/// Builds PROXY headers as a balancer sends them: for the load tester's
/// `--proxy-protocol v1|v2` and for tests of the parser and the server.
public enum ProxyHeaderEncoder {
    /// `PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n`, or TCP6 when either endpoint is IPv6 (an
    /// IPv4 endpoint beside an IPv6 one is written IPv4-mapped, since v1 has one family).
    public static func v1(source: IPEndpoint, destination: IPEndpoint) -> [UInt8] {
        let (from, to) = sameFamily(source, destination)
        let proto = if case .v4 = from.address { "TCP4" } else { "TCP6" }
        return Array("PROXY \(proto) \(from.address) \(to.address) \(from.port) \(to.port)\r\n".utf8)
    }

    /// `PROXY UNKNOWN\r\n`, what a balancer sends when it cannot name the endpoints.
    public static func v1Unknown() -> [UInt8] { Array("PROXY UNKNOWN\r\n".utf8) }

    /// A v2 PROXY header for TCP (or UDP with `datagram`) between the two endpoints.
    public static func v2(
        source: IPEndpoint, destination: IPEndpoint, datagram: Bool = false, tlvs: [ProxyTLV] = []
    ) -> [UInt8] {
        let (from, to) = sameFamily(source, destination)
        var block = from.address.bytes + to.address.bytes
        block += [UInt8(from.port >> 8), UInt8(truncatingIfNeeded: from.port)]
        block += [UInt8(to.port >> 8), UInt8(truncatingIfNeeded: to.port)]
        let family: UInt8 = if case .v4 = from.address { 0x10 } else { 0x20 }
        return v2Raw(
            versionAndCommand: 0x21, familyAndTransport: family | (datagram ? 0x02 : 0x01), addressBlock: block,
            tlvs: tlvs)
    }

    /// A v2 LOCAL header (a balancer's own health check) with no address block.
    public static func v2Local(tlvs: [ProxyTLV] = []) -> [UInt8] {
        v2Raw(versionAndCommand: 0x20, familyAndTransport: 0x00, addressBlock: [], tlvs: tlvs)
    }

    /// Any v2 header, valid or not, from its fields: for tests of the parser.
    ///
    /// - Precondition: the address block and TLVs fit the 16-bit length field.
    public static func v2Raw(
        versionAndCommand: UInt8, familyAndTransport: UInt8, addressBlock: [UInt8], tlvs: [ProxyTLV] = [],
        lengthOverride: Int? = nil
    ) -> [UInt8] {
        var body = addressBlock
        for tlv in tlvs {
            precondition(tlv.value.count <= Int(UInt16.max), "a TLV value has at most 65535 bytes")
            body += [tlv.type, UInt8(tlv.value.count >> 8), UInt8(truncatingIfNeeded: tlv.value.count)]
            body += tlv.value
        }
        let length = lengthOverride ?? body.count
        precondition(length >= 0 && length <= Int(UInt16.max), "a v2 header holds at most 65535 bytes")
        var header = (0..<12).map { ProxyHeaderParser.v2SignatureByte($0) }
        header += [versionAndCommand, familyAndTransport, UInt8(length >> 8), UInt8(truncatingIfNeeded: length)]
        return header + body
    }

    private static func sameFamily(_ source: IPEndpoint, _ destination: IPEndpoint) -> (IPEndpoint, IPEndpoint) {
        switch (source.address, destination.address) {
        case (.v4, .v4), (.v6, .v6): return (source, destination)
        default: return (mapped(source), mapped(destination))
        }
    }

    private static func mapped(_ endpoint: IPEndpoint) -> IPEndpoint {
        guard case .v4(let value) = endpoint.address else { return endpoint }
        return IPEndpoint(address: .v6(high: 0, low: 0xFFFF_0000_0000 | UInt64(value)), port: endpoint.port)
    }
}

// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// Incremental, strict parser of the PROXY header that a balancer sends first on each
/// connection (HAProxy's proxy-protocol.txt, version 1 text and version 2 binary).
///
/// Feed the connection's bytes as they arrive; each call says `needMore`, `done` (with how
/// many bytes of that chunk were the header's) or `invalid`. The parser reads one byte at a
/// time through its state (except bulk skips of TLV values), so any split of the same bytes
/// gives the same verdict and the same header. Every read goes through a bounds-checked
/// `Span`; the state is a 108-byte inline buffer and a few integers, so parsing allocates
/// nothing. After a verdict, further calls return it again (`done` with `consumed: 0`).
///
/// Strictness, from the spec: v1 is exactly `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` with
/// single spaces, canonical addresses of the declared family, ports 0-65535 without leading
/// zeros, at most 107 bytes; `PROXY UNKNOWN` may carry anything up to the CRLF. v2 needs the
/// 12-byte signature, version 2, command LOCAL or PROXY, a defined family and transport, an
/// address block that fits in the declared length, and TLVs that exactly fill the rest; the
/// declared length is capped by `maxV2PayloadLength`. LOCAL ignores the address block (the
/// spec says so). AF_UNIX and AF_UNSPEC addresses, and the UNSPEC transport, are accepted
/// as UNKNOWN: the connection keeps its real peer.
public struct ProxyHeaderParser: Sendable {
    /// Longest v1 line, CRLF included (`PROXY UNKNOWN` with two full IPv6 addresses).
    public static let maxV1Length = 107
    /// Bytes of the v2 signature, version/command, family and length fields.
    public static let v2FixedLength = 16
    /// Default cap on the v2 length field: room for every TLV HAProxy sends (ALPN, authority,
    /// unique ID, SSL details) many times over, while a peer cannot make us skip 64 KiB.
    public static let defaultMaxV2PayloadLength = 4096

    public let mode: ProxyProtocolMode
    /// Largest v2 length field (bytes after the 16 fixed ones) accepted.
    public let maxV2PayloadLength: Int

    enum Phase: UInt8, Sendable {
        case signature, v1Line, v2Fixed, v2Address, v2TLVs, v2Skip, finished
    }

    var phase = Phase.signature
    /// The v1 line, or the v2 fixed part followed by up to 36 address bytes.
    var stored = InlineArray<108, UInt8>(repeating: 0)
    var storedCount = 0
    /// Header bytes consumed so far.
    var seen = 0
    /// Total v2 header length (16 + length field), once the fixed part is read.
    var v2End = 0
    /// Header offset where the v2 address block ends.
    var v2AddressEnd = 0
    /// Bytes of the current TLV's 3-byte type/length prefix seen (0 between TLVs).
    var tlvPrefixSeen = 0
    var tlvLength = 0
    var tlvValueLeft = 0
    var pendingHeader: ProxyHeader? = nil
    var verdict: ProxyHeaderParseResult? = nil

    /// A parser for one connection, or nil for `.off` (nothing to parse).
    public init?(mode: ProxyProtocolMode, maxV2PayloadLength: Int = defaultMaxV2PayloadLength) {
        guard mode != .off else { return nil }
        self.mode = mode
        self.maxV2PayloadLength = max(0, min(maxV2PayloadLength, Int(UInt16.max)))
    }

    /// Header bytes consumed so far across all calls (the whole header once `done`).
    public var consumedByteCount: Int { seen }

    /// Parses the next received bytes.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer) -> ProxyHeaderParseResult {
        // Raw socket bytes are plain bytes: viewing them as UInt8 is always valid.
        parse(chunk.assumingMemoryBound(to: UInt8.self).span)
    }

    /// Parses the next received bytes.
    public mutating func parse(_ bytes: Span<UInt8>) -> ProxyHeaderParseResult {
        if let verdict {
            if case .done(let header, _) = verdict { return .done(header, consumed: 0) }
            return verdict
        }
        var index = 0
        while index < bytes.count {
            switch phase {
            case .signature:
                let byte = bytes[index]
                index += 1
                guard signatureAccepts(byte) else { return fail(.missingHeader) }
                store(byte)
                if storedCount == 6 && stored[0] == UInt8(ascii: "P") {
                    phase = .v1Line
                } else if storedCount == 12 {
                    phase = .v2Fixed
                }
            case .v1Line:
                let byte = bytes[index]
                index += 1
                let afterCR = stored[storedCount - 1] == 0x0D
                guard afterCR == (byte == 0x0A) else { return fail(.v1BadLineEnd) }
                store(byte)
                if afterCR { return finishV1(consumed: index) }
                if storedCount >= Self.maxV1Length { return fail(.v1LineTooLong) }
            case .v2Fixed:
                store(bytes[index])
                index += 1
                if storedCount == Self.v2FixedLength {
                    if let error = readV2FixedPart() { return fail(error) }
                }
            case .v2Address:
                let take = min(v2AddressEnd - seen, bytes.count - index)
                for offset in 0..<take where storedCount < stored.count {
                    stored[storedCount] = bytes[index + offset]
                    storedCount += 1
                }
                index += take
                seen += take
                if seen == v2AddressEnd { readV2Addresses() }
            case .v2TLVs:
                if tlvPrefixSeen < 3 {
                    if tlvPrefixSeen == 0 && v2End - seen < 3 { return fail(.v2BadTLV) }
                    if tlvPrefixSeen > 0 { tlvLength = tlvLength << 8 | Int(bytes[index]) }
                    tlvPrefixSeen += 1
                    index += 1
                    seen += 1
                    if tlvPrefixSeen == 3 {
                        guard seen + tlvLength <= v2End else { return fail(.v2BadTLV) }
                        tlvValueLeft = tlvLength
                    }
                } else {
                    let take = min(tlvValueLeft, bytes.count - index)
                    index += take
                    seen += take
                    tlvValueLeft -= take
                }
                if tlvPrefixSeen == 3 && tlvValueLeft == 0 {
                    tlvPrefixSeen = 0
                    tlvLength = 0
                }
            case .v2Skip:
                let take = min(v2End - seen, bytes.count - index)
                index += take
                seen += take
            case .finished:
                return verdict ?? .needMore
            }
            if phase.isV2Body && seen == v2End, let header = pendingHeader {
                return finish(.done(header, consumed: index))
            }
        }
        return .needMore
    }

    // MARK: steps

    /// Whether `byte` may come next in the signature the mode allows.
    private func signatureAccepts(_ byte: UInt8) -> Bool {
        if storedCount == 0 {
            switch byte {
            case UInt8(ascii: "P"): return mode == .v1 || mode == .any
            case 0x0D: return mode == .v2 || mode == .any
            default: return false
            }
        }
        if stored[0] == UInt8(ascii: "P") { return byte == Self.v1PrefixByte(storedCount) }
        return byte == Self.v2SignatureByte(storedCount)
    }

    private mutating func store(_ byte: UInt8) {
        stored[storedCount] = byte
        storedCount += 1
        seen += 1
    }

    private mutating func fail(_ error: ProxyHeaderError) -> ProxyHeaderParseResult {
        finish(.invalid(error))
    }

    private mutating func finish(_ result: ProxyHeaderParseResult) -> ProxyHeaderParseResult {
        phase = .finished
        verdict = result
        return result
    }

    private mutating func finishV1(consumed: Int) -> ProxyHeaderParseResult {
        let length = storedCount
        let parsed = Self.parseV1Line(stored.span.extracting(6..<(length - 2)), length: length)
        switch parsed {
        case .success(let header): return finish(.done(header, consumed: consumed))
        case .failure(let error): return fail(error)
        }
    }

    /// Checks the 16 fixed bytes and decides what follows; nil when they are valid.
    private mutating func readV2FixedPart() -> ProxyHeaderError? {
        let versionAndCommand = stored[12]
        guard versionAndCommand >> 4 == 2 else { return .v2BadVersion }
        let command = versionAndCommand & 0x0F
        guard command <= 1 else { return .v2BadCommand }
        let payloadLength = Int(stored[14]) << 8 | Int(stored[15])
        guard payloadLength <= maxV2PayloadLength else {
            return .v2TooLong(declared: payloadLength, limit: maxV2PayloadLength)
        }
        v2End = Self.v2FixedLength + payloadLength
        if command == 0 {
            // LOCAL: "discard the protocol block including the family which is ignored".
            pendingHeader = ProxyHeader(version: .v2, command: .local, source: nil, destination: nil, length: v2End)
            phase = .v2Skip
            return nil
        }
        let family = stored[13] >> 4
        let transport = stored[13] & 0x0F
        guard family <= 3, transport <= 2 else { return .v2BadFamily }
        let unknown = ProxyHeader(version: .v2, command: .proxy, source: nil, destination: nil, length: v2End)
        guard family != 0, transport != 0 else {
            // UNSPEC: the receiver "should ignore address information"; no block to walk past.
            pendingHeader = unknown
            phase = .v2Skip
            return nil
        }
        let blockSize = family == 1 ? 12 : family == 2 ? 36 : 216
        guard payloadLength >= blockSize else { return .v2AddressTooShort }
        v2AddressEnd = Self.v2FixedLength + blockSize
        phase = .v2Address
        return nil
    }

    /// Builds the header from the complete address block, then walks the TLVs after it.
    private mutating func readV2Addresses() {
        let family = stored[13] >> 4
        let header: ProxyHeader
        switch family {
        case 1:
            let block = stored.span.extracting(16..<28)
            header = ProxyHeader(
                version: .v2, command: .proxy,
                source: IPEndpoint(address: .v4(Self.uint32(block, 0)), port: Self.uint16(block, 8)),
                destination: IPEndpoint(address: .v4(Self.uint32(block, 4)), port: Self.uint16(block, 10)),
                length: v2End)
        case 2:
            let block = stored.span.extracting(16..<52)
            let source = IPAddress.v6(high: Self.uint64(block, 0), low: Self.uint64(block, 8))
            let destination = IPAddress.v6(high: Self.uint64(block, 16), low: Self.uint64(block, 24))
            header = ProxyHeader(
                version: .v2, command: .proxy,
                source: IPEndpoint(address: source, port: Self.uint16(block, 32)),
                destination: IPEndpoint(address: destination, port: Self.uint16(block, 34)),
                length: v2End)
        default:
            // AF_UNIX: valid, but a path is no IP peer; keep the balancer as the peer.
            header = ProxyHeader(version: .v2, command: .proxy, source: nil, destination: nil, length: v2End)
        }
        pendingHeader = header
        phase = .v2TLVs
    }

    // MARK: v1 line

    /// Parses a v1 line (`line` is what follows `PROXY `, without the CRLF).
    static func parseV1Line(_ line: Span<UInt8>, length: Int) -> Result<ProxyHeader, ProxyHeaderError> {
        var fieldEnd = 0
        while fieldEnd < line.count && line[fieldEnd] != UInt8(ascii: " ") { fieldEnd += 1 }
        let proto = line.extracting(0..<fieldEnd)
        if matches(proto, "UNKNOWN") {
            // "the receiver must ignore anything presented before the CRLF"
            return .success(ProxyHeader(version: .v1, command: .proxy, source: nil, destination: nil, length: length))
        }
        let isIPv4 = matches(proto, "TCP4")
        guard isIPv4 || matches(proto, "TCP6") else { return .failure(.v1UnknownProtocol) }

        // Exactly four non-empty single-space-separated fields after the protocol.
        guard fieldEnd < line.count else { return .failure(.v1BadFieldLayout) }
        var starts = InlineArray<4, Int>(repeating: 0)
        var ends = InlineArray<4, Int>(repeating: 0)
        var fields = 0
        var start = fieldEnd + 1
        var index = start
        while index <= line.count {
            if index == line.count || line[index] == UInt8(ascii: " ") {
                guard index > start, fields < 4 else { return .failure(.v1BadFieldLayout) }
                starts[fields] = start
                ends[fields] = index
                fields += 1
                start = index + 1
            }
            index += 1
        }
        guard fields == 4 else { return .failure(.v1BadFieldLayout) }
        let addresses: (IPAddress, IPAddress)
        if isIPv4 {
            guard let source = IPAddress.parseIPv4(line.extracting(starts[0]..<ends[0])),
                let destination = IPAddress.parseIPv4(line.extracting(starts[1]..<ends[1]))
            else {
                return .failure(.v1BadAddress)
            }
            addresses = (.v4(source), .v4(destination))
        } else {
            guard let source = IPAddress.parseIPv6(line.extracting(starts[0]..<ends[0])),
                let destination = IPAddress.parseIPv6(line.extracting(starts[1]..<ends[1]))
            else {
                return .failure(.v1BadAddress)
            }
            addresses = (source, destination)
        }
        guard let sourcePort = port(line.extracting(starts[2]..<ends[2])),
            let destinationPort = port(line.extracting(starts[3]..<ends[3]))
        else {
            return .failure(.v1BadPort)
        }
        return .success(
            ProxyHeader(
                version: .v1, command: .proxy,
                source: IPEndpoint(address: addresses.0, port: sourcePort),
                destination: IPEndpoint(address: addresses.1, port: destinationPort),
                length: length))
    }

    private static func port(_ text: Span<UInt8>) -> UInt16? {
        guard let (value, end) = IPAddress.decimal(text, from: 0, maximum: 65535), end == text.count else {
            return nil
        }
        return UInt16(value)
    }

    private static func matches(_ text: Span<UInt8>, _ word: StaticString) -> Bool {
        guard text.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { expected in
            for index in 0..<text.count where text[index] != expected[index] { return false }
            return true
        }
    }

    // MARK: constants and byte helpers

    /// Byte `index` (0...5) of `PROXY `.
    static func v1PrefixByte(_ index: Int) -> UInt8 {
        switch index {
        case 0: return 0x50
        case 1: return 0x52
        case 2: return 0x4F
        case 3: return 0x58
        case 4: return 0x59
        default: return 0x20
        }
    }

    /// Byte `index` (0...11) of the v2 signature `\r\n\r\n\0\r\nQUIT\n`.
    static func v2SignatureByte(_ index: Int) -> UInt8 {
        switch index {
        case 0, 2, 5: return 0x0D
        case 1, 3, 6, 11: return 0x0A
        case 4: return 0x00
        case 7: return 0x51
        case 8: return 0x55
        case 9: return 0x49
        default: return 0x54
        }
    }

    private static func uint16(_ block: Span<UInt8>, _ offset: Int) -> UInt16 {
        UInt16(block[offset]) << 8 | UInt16(block[offset + 1])
    }

    private static func uint32(_ block: Span<UInt8>, _ offset: Int) -> UInt32 {
        UInt32(uint16(block, offset)) << 16 | UInt32(uint16(block, offset + 2))
    }

    private static func uint64(_ block: Span<UInt8>, _ offset: Int) -> UInt64 {
        UInt64(uint32(block, offset)) << 32 | UInt64(uint32(block, offset + 4))
    }
}

extension ProxyHeaderParser.Phase {
    /// After the v2 fixed part: the phases in which the header may complete.
    var isV2Body: Bool { self == .v2Address || self == .v2TLVs || self == .v2Skip }
}

import XCTest

@testable import TrustCore

final class ProxyHeaderParserTests: XCTestCase {
    // MARK: v1

    func testV1TCP4HeaderIsConsumedAndThePayloadAfterItIsLeft() {
        let line = [UInt8](ascii: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")
        let outcome = assertSameOutcomeForEverySplit(line + Array(ascii: "GET / HTTP/1.1\r\n"))
        guard case .done(let header, _) = outcome.verdict else { return XCTFail("\(outcome)") }
        XCTAssertEqual(header.version, .v1)
        XCTAssertEqual(header.command, .proxy)
        XCTAssertEqual(header.source, endpoint("192.168.0.1", 56324))
        XCTAssertEqual(header.destination, endpoint("192.168.0.11", 443))
        XCTAssertEqual(header.source?.description, "192.168.0.1:56324")
        XCTAssertEqual(header.length, line.count)
        XCTAssertFalse(header.isUnknown)
        XCTAssertEqual(outcome.remainder, Array(ascii: "GET / HTTP/1.1\r\n"))
    }

    func testV1TCP6HeadersIncludingMappedAndLongestForms() {
        let cases: [(String, IPEndpoint, IPEndpoint)] = [
            ("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", endpoint("2001:db8::1", 65535), endpoint("::1", 0)),
            (
                "PROXY TCP6 ::ffff:127.0.0.1 ::ffff:10.0.0.2 40000 9900\r\n",
                endpoint("::ffff:127.0.0.1", 40000), endpoint("::ffff:10.0.0.2", 9900)
            ),
            (
                "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF 65535 65535\r\n",
                endpoint("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
                endpoint("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)
            ),
        ]
        for (text, source, destination) in cases {
            let line = [UInt8](ascii: text)
            let outcome = assertSameOutcomeForEverySplit(line, text)
            guard case .done(let header, _) = outcome.verdict else {
                XCTFail("\(text): \(outcome)")
                continue
            }
            XCTAssertEqual(header.source, source, text)
            XCTAssertEqual(header.destination, destination, text)
            XCTAssertEqual(header.length, line.count, text)
        }
        XCTAssertEqual(
            endpoint("2001:db8::1", 65535).description, "[2001:db8::1]:65535", "IPv6 peers are logged in brackets")
    }

    func testV1UnknownIsAcceptedWithoutAddressesAndIgnoresTheRestOfTheLine() {
        let worstCase =
            "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
        XCTAssertEqual(worstCase.utf8.count, 107)
        for text in ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN anything\u{1}at all\r\n", worstCase] {
            let outcome = assertSameOutcomeForEverySplit(Array(ascii: text) + [0x41], text)
            guard case .done(let header, _) = outcome.verdict else {
                XCTFail("\(text): \(outcome)")
                continue
            }
            XCTAssertTrue(header.isUnknown, text)
            XCTAssertNil(header.source, text)
            XCTAssertNil(header.destination, text)
            XCTAssertEqual(outcome.remainder, [0x41], text)
        }
    }

    func testV1LineOfMoreThan107BytesIsRejectedAt107() {
        let tooLong = "PROXY UNKNOWN " + String(repeating: "x", count: 92) + "\r\n"
        XCTAssertEqual(tooLong.utf8.count, 108)
        let outcome = assertSameOutcomeForEverySplit(Array(ascii: tooLong))
        XCTAssertEqual(outcome.verdict, .invalid(.v1LineTooLong))
        // Decided before any CRLF arrives: 107 bytes without one is enough.
        let noEnd = [UInt8](ascii: "PROXY UNKNOWN " + String(repeating: "y", count: 93))
        XCTAssertEqual(parseProxyStream(noEnd, chunkSizes: [noEnd.count]).verdict, .invalid(.v1LineTooLong))
        XCTAssertEqual(parseProxyStream(Array(noEnd.dropLast()), chunkSizes: [200]).verdict, .needMore)
    }

    func testMalformedV1LinesAreRejectedWithTheirReason() {
        let cases: [(String, ProxyHeaderError)] = [
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", .v1BadLineEnd),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", .v1BadLineEnd),
            ("PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n", .v1BadLineEnd),
            ("PROXY UNKNOWN\r\r\n", .v1BadLineEnd),
            ("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", .v1UnknownProtocol),
            ("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", .v1UnknownProtocol),
            ("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", .v1UnknownProtocol),
            ("PROXY UNKNOWNX\r\n", .v1UnknownProtocol),
            ("PROXY \r\n", .v1UnknownProtocol),
            ("PROXY TCP4\r\n", .v1BadFieldLayout),
            ("PROXY TCP4 \r\n", .v1BadFieldLayout),
            ("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", .v1BadFieldLayout),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", .v1BadFieldLayout),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", .v1BadFieldLayout),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", .v1BadFieldLayout),
            ("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", .v1BadFieldLayout),
            ("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 1.2.3.4 5.6.7. 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 localhost 5.6.7.8 1 2\r\n", .v1BadAddress),
            ("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", .v1BadAddress),
            ("PROXY TCP6 1::2::3 ::1 1 2\r\n", .v1BadAddress),
            ("PROXY TCP6 12345::1 ::1 1 2\r\n", .v1BadAddress),
            ("PROXY TCP6 [::1] ::1 1 2\r\n", .v1BadAddress),
            ("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", .v1BadAddress),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", .v1BadPort),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", .v1BadPort),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", .v1BadPort),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", .v1BadPort),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n", .v1BadPort),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999999999999999999\r\n", .v1BadPort),
        ]
        for (text, error) in cases {
            let outcome = assertSameOutcomeForEverySplit(Array(ascii: text), text)
            XCTAssertEqual(outcome.verdict, .invalid(error), text)
        }
    }

    func testNonProxyStartIsRejectedAtTheFirstWrongByte() {
        for text in ["GET / HTTP/1.1\r\n", "proxy TCP4", "PROXX", "PROXY\t", "\u{0}"] {
            let bytes = [UInt8](ascii: text)
            XCTAssertEqual(assertSameOutcomeForEverySplit(bytes, text).verdict, .invalid(.missingHeader), text)
        }
        // Rejected as soon as the prefix breaks, without waiting for a line end.
        XCTAssertEqual(parseProxyStream(Array(ascii: "PRX"), chunkSizes: [3]).verdict, .invalid(.missingHeader))
        XCTAssertEqual(parseProxyStream(Array(ascii: "PRO"), chunkSizes: [3]).verdict, .needMore)
    }

    // MARK: modes

    func testModeSelectsWhichVersionsAreAccepted() {
        let v1 = ProxyHeaderEncoder.v1(source: endpoint("1.2.3.4", 1), destination: endpoint("5.6.7.8", 2))
        let v2 = ProxyHeaderEncoder.v2(source: endpoint("1.2.3.4", 1), destination: endpoint("5.6.7.8", 2))
        for (mode, acceptsV1, acceptsV2) in [
            (ProxyProtocolMode.v1, true, false), (.v2, false, true), (.any, true, true),
        ] {
            let one = assertSameOutcomeForEverySplit(v1, mode: mode, "v1 in \(mode)").verdict
            let two = assertSameOutcomeForEverySplit(v2, mode: mode, "v2 in \(mode)").verdict
            XCTAssertEqual(one != .invalid(.missingHeader), acceptsV1, "v1 in mode \(mode): \(one)")
            XCTAssertEqual(two != .invalid(.missingHeader), acceptsV2, "v2 in mode \(mode): \(two)")
        }
        XCTAssertNil(ProxyHeaderParser(mode: .off), "mode off parses nothing")
        XCTAssertEqual(ProxyProtocolMode(rawValue: "any"), .any)
        XCTAssertNil(ProxyProtocolMode(rawValue: "v3"))
    }

    // MARK: v2

    func testV2TCP4AndTCP6HeadersWithPayload() {
        let cases = [
            (endpoint("203.0.113.7", 51000), endpoint("10.0.0.1", 9900)),
            (endpoint("2001:db8::dead:beef", 443), endpoint("fd00::1", 65535)),
            (endpoint("::ffff:192.0.2.1", 1), endpoint("::", 0)),
        ]
        for (source, destination) in cases {
            let header = ProxyHeaderEncoder.v2(source: source, destination: destination)
            let outcome = assertSameOutcomeForEverySplit(header + [9, 8, 7], "\(source)")
            guard case .done(let parsed, _) = outcome.verdict else {
                XCTFail("\(source): \(outcome)")
                continue
            }
            XCTAssertEqual(parsed.version, .v2)
            XCTAssertEqual(parsed.command, .proxy)
            XCTAssertEqual(parsed.source, source)
            XCTAssertEqual(parsed.destination, destination)
            XCTAssertEqual(parsed.length, header.count)
            XCTAssertEqual(outcome.remainder, [9, 8, 7])
        }
    }

    func testV2HeaderWithTLVsSkipsThemAndKeepsTheAddresses() {
        let tlvs = [
            ProxyTLV(type: 0x01, value: Array(ascii: "h2")),
            ProxyTLV(type: 0x02, value: Array(ascii: "echo.example")),
            ProxyTLV(type: ProxyTLV.noop, value: []),
            ProxyTLV(type: 0x05, value: [UInt8](repeating: 0xAB, count: 128)),
            ProxyTLV(type: 0x20, value: [0x01, 0, 0, 0, 0, 0x21, 0, 3] + Array(ascii: "1.3")),
            ProxyTLV(type: 0xE0, value: [UInt8](repeating: 0, count: 300)),
        ]
        let source = endpoint("198.51.100.2", 4000)
        let destination = endpoint("198.51.100.3", 80)
        let header = ProxyHeaderEncoder.v2(source: source, destination: destination, tlvs: tlvs)
        let outcome = assertSameOutcomeForEverySplit(header + Array(ascii: "data"))
        guard case .done(let parsed, _) = outcome.verdict else { return XCTFail("\(outcome)") }
        XCTAssertEqual(parsed.source, source)
        XCTAssertEqual(parsed.destination, destination)
        XCTAssertEqual(parsed.length, header.count)
        XCTAssertEqual(outcome.remainder, Array(ascii: "data"))
    }

    func testV2LocalIgnoresItsAddressBlockAndFamily() {
        let withBlock = ProxyHeaderEncoder.v2Raw(
            versionAndCommand: 0x20, familyAndTransport: 0xFF, addressBlock: [UInt8](repeating: 7, count: 21))
        for header in [
            ProxyHeaderEncoder.v2Local(), withBlock, ProxyHeaderEncoder.v2Local(tlvs: [.init(type: 4, value: [1])]),
        ] {
            let outcome = assertSameOutcomeForEverySplit(header + [0x42])
            XCTAssertEqual(
                outcome.verdict,
                .done(
                    ProxyHeader(version: .v2, command: .local, source: nil, destination: nil, length: header.count),
                    consumed: header.count))
            XCTAssertEqual(outcome.remainder, [0x42])
        }
    }

    func testV2UnspecifiedAndUnixFamiliesAreAcceptedAsUnknown() {
        let cases: [(UInt8, Int)] = [(0x00, 0), (0x00, 12), (0x10, 12), (0x20, 5), (0x31, 216), (0x32, 216)]
        for (family, blockSize) in cases {
            var header = ProxyHeaderEncoder.v2Raw(
                versionAndCommand: 0x21, familyAndTransport: family,
                addressBlock: [UInt8](repeating: 1, count: blockSize))
            if family >> 4 == 3 {
                // AF_UNIX blocks are walked past, so TLVs after them are checked too.
                header = ProxyHeaderEncoder.v2Raw(
                    versionAndCommand: 0x21, familyAndTransport: family,
                    addressBlock: [UInt8](repeating: 1, count: blockSize), tlvs: [.init(type: 0x30, value: [1, 2])])
            }
            let outcome = assertSameOutcomeForEverySplit(header, "family \(family)")
            guard case .done(let parsed, _) = outcome.verdict else {
                XCTFail("family \(family): \(outcome)")
                continue
            }
            XCTAssertTrue(parsed.isUnknown, "family \(family)")
            XCTAssertEqual(parsed.length, header.count)
        }
    }

    func testV2UDPHeadersCarryTheirAddresses() {
        let header = ProxyHeaderEncoder.v2(
            source: endpoint("192.0.2.10", 5353), destination: endpoint("192.0.2.11", 53), datagram: true)
        XCTAssertEqual(header[13], 0x12)
        guard case .done(let parsed, _) = assertSameOutcomeForEverySplit(header).verdict else { return XCTFail() }
        XCTAssertEqual(parsed.source, endpoint("192.0.2.10", 5353))
    }

    func testMalformedV2HeadersAreRejectedWithTheirReason() {
        let ipv4Block = [UInt8](repeating: 1, count: 12)
        func raw(
            _ versionAndCommand: UInt8, _ family: UInt8, _ block: [UInt8], _ tlvs: [ProxyTLV] = [], length: Int? = nil
        )
            -> [UInt8]
        {
            ProxyHeaderEncoder.v2Raw(
                versionAndCommand: versionAndCommand, familyAndTransport: family, addressBlock: block, tlvs: tlvs,
                lengthOverride: length)
        }
        var overrunningTLV = raw(0x21, 0x11, ipv4Block, [.init(type: 2, value: [1, 2, 3, 4, 5])])
        overrunningTLV[15] -= 1  // the length field now ends inside the TLV's value
        let cases: [(String, [UInt8], ProxyHeaderError)] = [
            ("version 1", raw(0x11, 0x11, ipv4Block), .v2BadVersion),
            ("version 3", raw(0x31, 0x11, ipv4Block), .v2BadVersion),
            ("command 2", raw(0x22, 0x11, ipv4Block), .v2BadCommand),
            ("command 15", raw(0x2F, 0x11, ipv4Block), .v2BadCommand),
            ("family 4", raw(0x21, 0x41, ipv4Block), .v2BadFamily),
            ("transport 3", raw(0x21, 0x13, ipv4Block), .v2BadFamily),
            ("IPv4 block short", raw(0x21, 0x11, [UInt8](repeating: 1, count: 11)), .v2AddressTooShort),
            ("IPv6 block short", raw(0x21, 0x21, [UInt8](repeating: 1, count: 35)), .v2AddressTooShort),
            ("unix block short", raw(0x21, 0x31, [UInt8](repeating: 1, count: 215)), .v2AddressTooShort),
            ("declares too much", raw(0x21, 0x11, ipv4Block, length: 4097), .v2TooLong(declared: 4097, limit: 4096)),
            ("declares 65535", raw(0x21, 0x00, [], length: 65535), .v2TooLong(declared: 65535, limit: 4096)),
            ("TLV past the end", overrunningTLV, .v2BadTLV),
            ("2 stray bytes after the block", raw(0x21, 0x11, ipv4Block + [4, 0]), .v2BadTLV),
            ("1 stray byte after a TLV", raw(0x21, 0x21, [UInt8](repeating: 0, count: 36) + [4, 0, 0, 9]), .v2BadTLV),
        ]
        for (name, header, error) in cases {
            XCTAssertEqual(assertSameOutcomeForEverySplit(header + [0], name).verdict, .invalid(error), name)
        }
    }

    func testV2SignatureMismatchAtAnyPositionIsRejected() {
        let valid = ProxyHeaderEncoder.v2Local()
        for position in 0..<12 {
            var broken = valid
            broken[position] ^= 0x40
            XCTAssertEqual(
                parseProxyStream(broken, mode: .v2, chunkSizes: [broken.count]).verdict, .invalid(.missingHeader),
                "byte \(position)")
        }
    }

    func testEveryTruncationOfAValidHeaderNeedsMore() {
        let headers = [
            ProxyHeaderEncoder.v1(source: endpoint("2001:db8::1", 1234), destination: endpoint("::1", 9900)),
            ProxyHeaderEncoder.v2(
                source: endpoint("2001:db8::1", 1234), destination: endpoint("::1", 9900),
                tlvs: [.init(type: 1, value: [1, 2, 3]), .init(type: 2, value: [])]),
            ProxyHeaderEncoder.v2Raw(
                versionAndCommand: 0x21, familyAndTransport: 0x31, addressBlock: [UInt8](repeating: 0, count: 216)),
        ]
        for header in headers {
            for cut in 0..<header.count {
                let prefix = Array(header[..<cut])
                XCTAssertEqual(
                    parseProxyStream(prefix, chunkSizes: [1, 5, 20]).verdict, .needMore, "cut \(cut) of \(header.count)"
                )
            }
        }
    }

    func testV2LengthLimitIsConfigurable() {
        let header = ProxyHeaderEncoder.v2(
            source: endpoint("1.2.3.4", 1), destination: endpoint("5.6.7.8", 2),
            tlvs: [.init(type: 0xE1, value: [UInt8](repeating: 0, count: 100))])
        var strict = ProxyHeaderParser(mode: .v2, maxV2PayloadLength: 50)!
        XCTAssertEqual(strict.parse(header.span), .invalid(.v2TooLong(declared: header.count - 16, limit: 50)))
        var roomy = ProxyHeaderParser(mode: .v2, maxV2PayloadLength: 65535)!
        guard case .done = roomy.parse(header.span) else { return XCTFail("within the limit") }
    }

    // MARK: properties

    func testRandomEndpointsRoundTripThroughEncoderAndParserAtAnySplit() {
        var rng = SplitMix64(seed: proxyBaseSeed)
        func randomEndpoint() -> IPEndpoint {
            let address: IPAddress =
                Bool.random(using: &rng)
                ? .v4(UInt32.random(in: 0...UInt32.max, using: &rng))
                : .v6(
                    high: Bool.random(using: &rng) ? 0 : UInt64.random(in: 0...UInt64.max, using: &rng),
                    low: UInt64.random(in: 0...UInt64.max, using: &rng) >> (UInt64.random(in: 0...64, using: &rng) % 64)
                )
            return IPEndpoint(address: address, port: UInt16.random(in: 0...UInt16.max, using: &rng))
        }
        for caseIndex in 0..<300 {
            var source = randomEndpoint()
            var destination = randomEndpoint()
            if caseIndex % 2 == 0 { destination.address = source.address }
            let useV1 = Bool.random(using: &rng)
            let tlvs = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                ProxyTLV(
                    type: UInt8.random(in: 0...255, using: &rng),
                    value: (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                )
            }
            let header =
                useV1
                ? ProxyHeaderEncoder.v1(source: source, destination: destination)
                : ProxyHeaderEncoder.v2(source: source, destination: destination, tlvs: tlvs)
            let payload = (0..<Int.random(in: 0...10, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let stream = header + payload
            var cuts: [Int] = []
            var left = stream.count
            while left > 0 {
                let size = Int.random(in: 0...left, using: &rng) % 17
                cuts.append(size)
                left -= size
            }
            let outcome = parseProxyStream(stream, chunkSizes: cuts)
            guard case .done(let parsed, _) = outcome.verdict else {
                XCTFail("case \(caseIndex) \(source) \(destination) v1 \(useV1): \(outcome)")
                continue
            }
            // A mixed-family pair is sent IPv4-mapped; compare unmapped.
            XCTAssertEqual(parsed.source?.address.unmapped, source.address.unmapped, "case \(caseIndex)")
            XCTAssertEqual(parsed.destination?.address.unmapped, destination.address.unmapped, "case \(caseIndex)")
            XCTAssertEqual(parsed.source?.port, source.port)
            XCTAssertEqual(parsed.destination?.port, destination.port)
            XCTAssertEqual(parsed.length, header.count)
            XCTAssertEqual(outcome.remainder, payload)
            source = randomEndpoint()
        }
    }

    func testRandomGarbageGivesTheSameVerdictAtEverySplit() {
        var rng = SplitMix64(seed: proxyBaseSeed &+ 1)
        let seeds: [[UInt8]] = [
            ProxyHeaderEncoder.v1(source: endpoint("1.2.3.4", 5), destination: endpoint("6.7.8.9", 10)),
            ProxyHeaderEncoder.v2(
                source: endpoint("::1", 5), destination: endpoint("::2", 10), tlvs: [.init(type: 1, value: [1, 2])]),
            ProxyHeaderEncoder.v1Unknown(),
        ]
        for caseIndex in 0..<150 {
            // Mutations of valid headers reach deep states; pure noise checks the entry.
            var stream = seeds[caseIndex % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let position = Int.random(in: 0..<stream.count, using: &rng)
                switch Int.random(in: 0...2, using: &rng) {
                case 0: stream[position] = UInt8.random(in: 0...255, using: &rng)
                case 1: stream.remove(at: position)
                default: stream.insert(UInt8.random(in: 0...255, using: &rng), at: position)
                }
            }
            if caseIndex % 10 == 0 {
                stream = (0..<Int.random(in: 0...120, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            assertSameOutcomeForEverySplit(stream, "case \(caseIndex)")
        }
    }
}

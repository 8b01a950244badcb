import CNetShim
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

final class ProxyAddressTests: XCTestCase {
    // MARK: IPAddress text

    func testIPv6IsWrittenInRFC5952Form() {
        let cases: [(String, String)] = [
            ("::", "::"),
            ("::1", "::1"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("fe80::", "fe80::"),
            ("1::", "1::"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::ffff:c000:0201", "::ffff:192.0.2.1"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(IPAddress(input)?.description, expected, input)
        }
        XCTAssertEqual(IPAddress("192.0.2.1"), .v4(0xC000_0201))
        XCTAssertEqual(IPAddress("192.0.2.1")?.description, "192.0.2.1")
        XCTAssertEqual(IPAddress("::ffff:127.0.0.1")?.unmapped, .v4(0x7F00_0001))
        XCTAssertEqual(IPAddress("::1")?.unmapped, .ipv6Loopback)
    }

    /// The parser must accept exactly what glibc's inet_pton accepts (it is what a balancer's
    /// inet_ntop output and a user's `--proxy-trusted` are judged against elsewhere), and mean
    /// the same address.
    func testParserAgreesWithInetPtonOnRandomText() {
        var rng = SplitMix64(seed: proxyBaseSeed &+ 2)
        let alphabet = Array("0123456789abcdefABCDEF:.:.::".utf8)
        let seeds = ["::", "1::2", "::ffff:1.2.3.4", "1.2.3.4", "2001:db8:0:0:1:0:0:1", "255.255.255.255"]
        var agreed = 0
        for caseIndex in 0..<20_000 {
            var text: [UInt8]
            if caseIndex % 3 == 0 {
                text = (0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            } else {
                text = Array(seeds[caseIndex % seeds.count].utf8)
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let position = Int.random(in: 0...text.count, using: &rng)
                    if Bool.random(using: &rng) || text.isEmpty || position == text.count {
                        text.insert(alphabet.randomElement(using: &rng)!, at: position)
                    } else {
                        text.remove(at: position)
                    }
                }
            }
            let string = String(decoding: text, as: UTF8.self)
            let ours = IPAddress(string)
            let theirs = Self.inetPton(string)
            XCTAssertEqual(ours, theirs, "'\(string)'")
            if ours != nil { agreed += 1 }
        }
        XCTAssertGreaterThan(agreed, 1000, "the random cases must include many valid addresses")
    }

    func testFormattingAgreesWithInetNtopOnRandomAddresses() {
        var rng = SplitMix64(seed: proxyBaseSeed &+ 3)
        for _ in 0..<5_000 {
            // Sparse groups so that zero runs of every length and position appear.
            var bytes = [UInt8](repeating: 0, count: 16)
            for group in 0..<8 where Int.random(in: 0...2, using: &rng) == 0 {
                bytes[2 * group] = UInt8.random(in: 0...255, using: &rng)
                bytes[2 * group + 1] = UInt8.random(in: 1...255, using: &rng)
            }
            let address = IPAddress(ipv6Bytes: bytes)
            XCTAssertEqual(address.bytes, bytes)
            // glibc writes ::a.b.c.d for the deprecated IPv4-compatible form; RFC 5952 does not.
            let high = bytes[..<12].allSatisfy { $0 == 0 }
            if high { continue }
            XCTAssertEqual(address.description, Self.inetNtop6(bytes), "\(bytes)")
            XCTAssertEqual(IPAddress(address.description), address)
        }
    }

    // MARK: CIDR

    func testCIDRBlocksParseAndMatch() throws {
        let loopback = try CIDRBlock("127.0.0.0/8")
        XCTAssertTrue(loopback.contains(IPAddress("127.0.0.1")!))
        XCTAssertTrue(loopback.contains(IPAddress("127.255.255.255")!))
        XCTAssertFalse(loopback.contains(IPAddress("128.0.0.1")!))
        XCTAssertTrue(loopback.contains(IPAddress("::ffff:127.0.0.1")!), "IPv4-mapped peers match IPv4 blocks")
        XCTAssertFalse(loopback.contains(IPAddress("::1")!))

        let six = try CIDRBlock("2001:db8::/32")
        XCTAssertTrue(six.contains(IPAddress("2001:db8:ffff::1")!))
        XCTAssertFalse(six.contains(IPAddress("2001:db9::1")!))
        XCTAssertFalse(six.contains(IPAddress("32.1.13.184")!), "an IPv4 peer never matches an IPv6 block")

        XCTAssertEqual(try CIDRBlock("192.0.2.7").description, "192.0.2.7/32", "a bare address is one host")
        XCTAssertEqual(try CIDRBlock("::1").description, "::1/128")
        XCTAssertTrue(try CIDRBlock("0.0.0.0/0").contains(IPAddress("203.0.113.9")!))
        XCTAssertTrue(try CIDRBlock("::/0").contains(IPAddress("fe80::1")!))
        XCTAssertTrue(try CIDRBlock("10.1.2.3/32").contains(IPAddress("10.1.2.3")!))
        XCTAssertFalse(try CIDRBlock("10.1.2.3/32").contains(IPAddress("10.1.2.4")!))
        XCTAssertTrue(try CIDRBlock("2001:db8::/127").contains(IPAddress("2001:db8::1")!))
        XCTAssertTrue(try CIDRBlock("2001:db8::/65").contains(IPAddress("2001:db8::7fff:0:0:1")!))
        XCTAssertFalse(try CIDRBlock("2001:db8::/65").contains(IPAddress("2001:db8::8000:0:0:1")!))
        let mapped = try CIDRBlock("::ffff:10.0.0.0/104")
        XCTAssertEqual(mapped.description, "10.0.0.0/8", "an IPv4-mapped block is the IPv4 block")
        XCTAssertTrue(mapped.contains(IPAddress("10.9.8.7")!))
    }

    func testBadCIDRBlocksSayWhatIsWrong() {
        let cases: [(String, String)] = [
            (
                "10.0.0.1/8",
                "'10.0.0.1/8' is not a valid CIDR block: it has host bits set past the prefix (the block is 10.0.0.0/8)"
            ),
            ("10.0.0.0/33", "'10.0.0.0/33' is not a valid CIDR block: the prefix length must be 0 to 32"),
            ("::/129", "'::/129' is not a valid CIDR block: the prefix length must be 0 to 128"),
            ("10.0.0.0/", "'10.0.0.0/' is not a valid CIDR block: the prefix length is not a plain decimal number"),
            ("10.0.0.0/08", "'10.0.0.0/08' is not a valid CIDR block: the prefix length is not a plain decimal number"),
            ("10.0.0.0/-1", "'10.0.0.0/-1' is not a valid CIDR block: the prefix length is not a plain decimal number"),
            (
                "10.0.0.0/8/9",
                "'10.0.0.0/8/9' is not a valid CIDR block: expected an IPv4 or IPv6 address, optionally followed by /PREFIX"
            ),
            ("/8", "'/8' is not a valid CIDR block: expected an IPv4 or IPv6 address, optionally followed by /PREFIX"),
            (
                "localhost",
                "'localhost' is not a valid CIDR block: expected an IPv4 or IPv6 address, optionally followed by /PREFIX"
            ),
            (
                "010.0.0.0/8",
                "'010.0.0.0/8' is not a valid CIDR block: expected an IPv4 or IPv6 address, optionally followed by /PREFIX"
            ),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try CIDRBlock(text), text) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
    }

    func testTrustedNetworkListParsesAndDefaultsToLoopback() throws {
        let parsed = try ProxyTrustedNetworks(parsing: ProxyTrustedNetworks.defaultText)
        XCTAssertEqual(parsed, .loopback)
        XCTAssertEqual(parsed.description, "127.0.0.0/8,::1/128")
        XCTAssertTrue(parsed.contains(IPAddress("127.0.0.1")!))
        XCTAssertTrue(parsed.contains(IPAddress("127.8.9.10")!))
        XCTAssertTrue(parsed.contains(IPAddress("::1")!))
        XCTAssertTrue(parsed.contains(IPAddress("::ffff:127.0.0.1")!))
        XCTAssertFalse(parsed.contains(IPAddress("10.0.0.1")!))
        XCTAssertFalse(parsed.contains(IPAddress("::2")!))

        let spaced = try ProxyTrustedNetworks(parsing: " 10.0.0.0/8 , fd00::/8,192.0.2.1")
        XCTAssertEqual(spaced.description, "10.0.0.0/8,fd00::/8,192.0.2.1/32")
        XCTAssertTrue(spaced.contains(IPAddress("fd12::3")!))
        XCTAssertFalse(spaced.contains(IPAddress("127.0.0.1")!))

        for bad in ["", "10.0.0.0/8,", ",::1", "10.0.0.0/8,,::1", " "] {
            XCTAssertThrowsError(try ProxyTrustedNetworks(parsing: bad), "'\(bad)'") { error in
                XCTAssertTrue("\(error)".contains("an empty entry"), "\(error)")
            }
        }
        XCTAssertThrowsError(try ProxyTrustedNetworks(parsing: "127.0.0.0/8,10.0.0.1/8")) { error in
            XCTAssertTrue("\(error)".hasPrefix("'10.0.0.1/8' is not a valid CIDR block"), "\(error)")
        }
    }

    // MARK: socket addresses

    func testEndpointFromSocketAddresses() {
        for (host, port, text) in [("127.0.0.1", UInt16(5678), "127.0.0.1:5678"), ("::1", 9, "[::1]:9")] {
            var storage = sockaddr_storage()
            var length = socklen_t(0)
            XCTAssertEqual(cnet_resolve(host, port, 0, &storage, &length), 0)
            XCTAssertEqual(IPEndpoint(socketAddress: storage)?.description, text)
        }
        var unix = sockaddr_storage()
        unix.ss_family = sa_family_t(AF_UNIX)
        XCTAssertNil(IPEndpoint(socketAddress: unix))
    }

    // MARK: helpers

    private static func inetPton(_ text: String) -> IPAddress? {
        var four = in_addr()
        if inet_pton(AF_INET, text, &four) == 1 { return .v4(UInt32(bigEndian: four.s_addr)) }
        var six = in6_addr()
        guard inet_pton(AF_INET6, text, &six) == 1 else { return nil }
        return IPAddress(ipv6Bytes: withUnsafeBytes(of: six) { Array($0) })
    }

    private static func inetNtop6(_ bytes: [UInt8]) -> String {
        var six = in6_addr()
        withUnsafeMutableBytes(of: &six) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &six, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

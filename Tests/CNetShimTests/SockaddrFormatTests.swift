import CNetShim
import Glibc
import XCTest

final class SockaddrFormatTests: XCTestCase {
    func testFormatOfIPv4Address() throws {
        let (result, text) = try ResolvedAddress.resolve("127.0.0.1", port: 9900).formatted()
        XCTAssertEqual(text, "127.0.0.1:9900")
        XCTAssertEqual(result, Int32(text.utf8.count))
    }

    func testFormatOfIPv6AddressUsesBrackets() throws {
        let (result, text) = try ResolvedAddress.resolve("::1", port: 443).formatted()
        XCTAssertEqual(text, "[::1]:443")
        XCTAssertEqual(result, Int32(text.utf8.count))
    }

    /// Too small a buffer: -ENOSPC, and the buffer still ends in NUL.
    func testFormatIntoSmallBufferGivesENOSPC() throws {
        let (result, text) = try ResolvedAddress.resolve("127.0.0.1", port: 9900).formatted(capacity: 8)
        XCTAssertEqual(result, -ENOSPC)
        XCTAssertEqual(text, "127.0.0", "truncated and NUL-terminated")
    }

    func testFormatOfUnixAddressGivesEAFNOSUPPORT() {
        var address = ResolvedAddress()
        address.storage.ss_family = sa_family_t(AF_UNIX)
        address.length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let (result, text) = address.formatted()
        XCTAssertEqual(result, -EAFNOSUPPORT)
        XCTAssertEqual(text, "")
    }
}

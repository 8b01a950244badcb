import CNetShim
import Glibc
import XCTest

/// Name resolution: cnet_resolve_all / cnet_resolve, and resolver errors
/// returned as CNET_GAI_ERROR codes, distinct from every -errno.
final class ResolverTests: XCTestCase {
    /// The name has an empty label, so it fails in the resolver itself,
    /// without asking any DNS server.
    static let unresolvable = "no-such-host..invalid"

    /// getaddrinfo's own code and text, not a socket errno, from every
    /// function that resolves a name.
    func testUnresolvableNameGivesTheResolverErrorFromEveryFunction() {
        var storage = sockaddr_storage()
        var length: socklen_t = 0
        var list = [cnet_address](repeating: cnet_address(), count: 4)
        // Safe: the pointer lives only for the call and its real count is passed.
        let all = list.withUnsafeMutableBufferPointer {
            cnet_resolve_all(Self.unresolvable, 80, 0, $0.baseAddress, Int32($0.count))
        }
        let results: [(String, Int32)] = [
            ("cnet_resolve_all", all),
            ("cnet_resolve", cnet_resolve(Self.unresolvable, 80, 0, &storage, &length)),
            ("cnet_tcp_connect_host", cnet_tcp_connect_host(Self.unresolvable, 80, 1000, 0)),
            ("cnet_tcp_listen_host", cnet_tcp_listen_host(Self.unresolvable, 0, 16, 0, nil)),
        ]
        for (function, rc) in results {
            if rc >= 0 { _ = cnet_close(rc) }
            XCTAssertEqual(cnet_is_gai_error(rc), 1, "\(function): \(ShimFailure.errnoName(Int(rc)))")
            XCTAssertEqual(cnet_gai_code(rc), EAI_NONAME, function)
            XCTAssertEqual(String(cString: cnet_errno_name(rc)), "EAI_NONAME", function)
            XCTAssertEqual(String(cString: cnet_gai_strerror(rc)), String(cString: gai_strerror(EAI_NONAME)), function)
        }
        XCTAssertEqual(String(cString: cnet_gai_strerror(all)), "Name or service not known")
    }

    /// The resolver range never overlaps an errno: both signs are
    /// recognised (Swift's Errno keeps the magnitude), nothing else is.
    func testResolverErrorRangeIsDistinctFromErrno() {
        // CNET_GAI_ERROR(eai), which Swift does not import (a function-like macro).
        let noName = -(CNET_GAI_ERROR_BASE + abs(EAI_NONAME))
        let again = -(CNET_GAI_ERROR_BASE + abs(EAI_AGAIN))
        XCTAssertEqual(cnet_is_gai_error(noName), 1)
        XCTAssertEqual(cnet_is_gai_error(-noName), 1, "positive magnitude")
        XCTAssertEqual(cnet_gai_code(again), EAI_AGAIN)
        XCTAssertEqual(String(cString: cnet_errno_name(-again)), "EAI_AGAIN")
        XCTAssertEqual(String(cString: cnet_gai_strerror(again)), "Temporary failure in name resolution")
        for notResolver in [0, 1, -ECONNREFUSED, ECONNREFUSED, -4095, -CNET_GAI_ERROR_BASE, Int32.min, Int32.max] {
            XCTAssertEqual(cnet_is_gai_error(notResolver), 0, "\(notResolver)")
            XCTAssertEqual(cnet_gai_code(notResolver), 0, "\(notResolver)")
            XCTAssertEqual(String(cString: cnet_gai_strerror(notResolver)), "Unknown resolver error")
        }
        XCTAssertEqual(String(cString: cnet_errno_name(-ECONNREFUSED)), "ECONNREFUSED", "errno names unchanged")
    }

    /// Every address of a name, in getaddrinfo's order; max truncates.
    func testResolveAllReturnsEveryAddressUpToMax() throws {
        var list = [cnet_address](repeating: cnet_address(), count: Int(CNET_MAX_ADDRESSES))
        let literal = resolveAll("::1", port: 9900, into: &list)
        XCTAssertEqual(literal, 1)
        XCTAssertEqual(Int32(list[0].addr.ss_family), AF_INET6)
        XCTAssertEqual(list[0].len, socklen_t(MemoryLayout<sockaddr_in6>.size))
        XCTAssertEqual(format(list[0]), "[::1]:9900")

        XCTAssertEqual(resolveAll("127.0.0.1", port: 80, into: &list), 1)
        XCTAssertEqual(format(list[0]), "127.0.0.1:80")

        // Passive with no host is the IPv4 wildcard.
        let passive = list.withUnsafeMutableBufferPointer { cnet_resolve_all(nil, 7, 1, $0.baseAddress, 1) }
        XCTAssertEqual(passive, 1)
        XCTAssertEqual(format(list[0]), "0.0.0.0:7")

        let localhost = resolveAll("localhost", port: 1, into: &list)
        XCTAssertGreaterThanOrEqual(localhost, 1, "got \(ShimFailure.errnoName(Int(localhost)))")
        var one = [cnet_address](repeating: cnet_address(), count: 1)
        XCTAssertEqual(resolveAll("localhost", port: 1, into: &one), 1, "max 1 truncates")
    }

    func testResolveAllRejectsMissingOutputOrZeroMax() {
        XCTAssertEqual(cnet_resolve_all("127.0.0.1", 80, 0, nil, 4), -EINVAL)
        var list = [cnet_address](repeating: cnet_address(), count: 1)
        XCTAssertEqual(
            list.withUnsafeMutableBufferPointer { cnet_resolve_all("127.0.0.1", 80, 0, $0.baseAddress, 0) }, -EINVAL)
        var length: socklen_t = 0
        XCTAssertEqual(cnet_resolve("127.0.0.1", 80, 0, nil, &length), -EINVAL)
    }

    /// The storage a caller hands in is zeroed, not just the bytes of the
    /// address: no stale bytes past a sockaddr_in.
    func testResolveZeroesTheWholeStorage() {
        var storage = sockaddr_storage()
        _ = withUnsafeMutableBytes(of: &storage) { $0.initializeMemory(as: UInt8.self, repeating: 0xAA) }
        var length: socklen_t = 0
        XCTAssertEqual(cnet_resolve("127.0.0.1", 80, 0, &storage, &length), 0)
        XCTAssertEqual(length, socklen_t(MemoryLayout<sockaddr_in>.size))
        let tail = withUnsafeBytes(of: &storage) { Array($0[Int(length)...]) }
        XCTAssertEqual(tail, [UInt8](repeating: 0, count: tail.count))
    }

    private func resolveAll(_ host: String, port: UInt16, into list: inout [cnet_address]) -> Int32 {
        // Safe: the pointer lives only for the call and its real count is passed as max.
        list.withUnsafeMutableBufferPointer { cnet_resolve_all(host, port, 0, $0.baseAddress, Int32($0.count)) }
    }

    private func format(_ address: cnet_address) -> String {
        var resolved = ResolvedAddress()
        resolved.storage = address.addr
        resolved.length = address.len
        return resolved.formatted().text
    }
}

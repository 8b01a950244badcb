import CNetShim
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

final class InheritedListenersTests: XCTestCase {
    // MARK: the variables

    func testVariablesAnnounceDescriptorsFromThreeWithTheirNames() throws {
        let slots = try InheritedListeners.descriptors(
            environment: ["LISTEN_PID": "4242", "LISTEN_FDS": "3", "LISTEN_FDNAMES": "tcp4:tcp6:"], processID: 4242)
        XCTAssertEqual(slots?.map(\.descriptor), [3, 4, 5])
        XCTAssertEqual(slots?.map(\.name), ["tcp4", "tcp6", ""])
        let unnamed = try InheritedListeners.descriptors(
            environment: ["LISTEN_PID": "7", "LISTEN_FDS": "1"], processID: 7)
        XCTAssertEqual(unnamed?.map(\.descriptor), [3])
        XCTAssertEqual(unnamed?.map(\.name), [nil])
    }

    func testVariablesForAnotherProcessOrNoneAreIgnored() throws {
        let cases: [[String: String]] = [
            [:],
            ["LISTEN_FDS": "2"],
            ["LISTEN_PID": "99"],
            ["LISTEN_PID": "99", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b"],
            ["LISTEN_PID": "100", "LISTEN_FDS": "0"],
        ]
        for environment in cases {
            XCTAssertNil(
                try InheritedListeners.descriptors(environment: environment, processID: 100), "\(environment)")
        }
    }

    func testMalformedVariablesAreConfigErrorsNamingThem() {
        let cases: [([String: String], String)] = [
            (["LISTEN_PID": "abc", "LISTEN_FDS": "1"], "LISTEN_PID is 'abc', expected a process ID"),
            (["LISTEN_PID": "-5", "LISTEN_FDS": "1"], "LISTEN_PID is '-5', expected a process ID"),
            (["LISTEN_PID": "0", "LISTEN_FDS": "1"], "LISTEN_PID is '0', expected a process ID"),
            (["LISTEN_PID": "99999999999", "LISTEN_FDS": "1"], "LISTEN_PID is '99999999999', expected a process ID"),
            (
                ["LISTEN_PID": "7", "LISTEN_FDS": "x"],
                "LISTEN_FDS is 'x', expected a number of descriptors (0 to 4096)"
            ),
            (
                ["LISTEN_PID": "7", "LISTEN_FDS": "+1"],
                "LISTEN_FDS is '+1', expected a number of descriptors (0 to 4096)"
            ),
            (
                ["LISTEN_PID": "7", "LISTEN_FDS": "4097"],
                "LISTEN_FDS is '4097', expected a number of descriptors (0 to 4096)"
            ),
            (
                ["LISTEN_PID": "7", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "one"],
                "LISTEN_FDNAMES has 1 name but LISTEN_FDS is 2"
            ),
            (
                ["LISTEN_PID": "7", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"],
                "LISTEN_FDNAMES has 2 names but LISTEN_FDS is 1"
            ),
        ]
        for (environment, message) in cases {
            XCTAssertThrowsError(try InheritedListeners.descriptors(environment: environment, processID: 7)) { error in
                let trust = error as? TrustError
                XCTAssertEqual(trust?.message, message)
                XCTAssertEqual(trust?.exitCode, 78)
            }
        }
    }

    func testVariablesAreUnsetAfterReadingEvenWhenMeantForAnotherProcess() throws {
        setenv("LISTEN_PID", String(getpid() + 1), 1)
        setenv("LISTEN_FDS", "2", 1)
        setenv("LISTEN_FDNAMES", "a:b", 1)
        XCTAssertNil(try InheritedListeners.takeFromEnvironment())
        for name in InheritedListeners.variableNames {
            XCTAssertNil(getenv(name), "\(name) must not reach child processes")
        }
        XCTAssertNil(try InheritedListeners.takeFromEnvironment(), "nothing set: not socket-activated")
    }

    // MARK: the descriptors

    func testListeningIPv4AndIPv6SocketsAreAcceptedAndMadeNonBlockingAndCloseOnExec() throws {
        for (family, host) in [(AF_INET, "127.0.0.1"), (AF_INET6, "::1")] {
            let descriptor = try Self.listeningSocket(family: family, host: host)
            defer { close(descriptor) }
            XCTAssertEqual(fcntl(descriptor, F_GETFL) & O_NONBLOCK, 0, "starts blocking")
            XCTAssertEqual(fcntl(descriptor, F_GETFD) & FD_CLOEXEC, 0, "starts inheritable")
            let listener = try InheritedListeners.validate(descriptor: descriptor, name: "web")
            XCTAssertEqual(listener.descriptor, descriptor)
            XCTAssertEqual(listener.name, "web")
            XCTAssertEqual(listener.localAddress.address, IPAddress(host))
            XCTAssertEqual(listener.localAddress.port, UInt16(cnet_local_port(descriptor)))
            XCTAssertNotEqual(listener.localAddress.port, 0)
            XCTAssertNotEqual(fcntl(descriptor, F_GETFL) & O_NONBLOCK, 0)
            XCTAssertNotEqual(fcntl(descriptor, F_GETFD) & FD_CLOEXEC, 0)
        }
    }

    func testOtherDescriptorsAreConfigErrorsNamingTheDescriptor() throws {
        var pipeEnds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&pipeEnds), 0)
        let unconnected = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let udp = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        let unix = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        // The highest number the limit allows: a just-closed low number can be taken again at
        // once by another thread of the test process (seen under AddressSanitizer).
        let closedDescriptor = Int32(getdtablesize() - 1)
        XCTAssertEqual(fcntl(closedDescriptor, F_GETFD), -1, "descriptor \(closedDescriptor) is open")
        defer { [pipeEnds[0], pipeEnds[1], unconnected, udp, unix].forEach { close($0) } }
        let cases: [(Int32, String?, String)] = [
            (pipeEnds[0], "echo", "inherited descriptor \(pipeEnds[0]) ('echo') is not a socket"),
            (unconnected, nil, "inherited descriptor \(unconnected) is not listening"),
            (udp, "udp", "inherited descriptor \(udp) ('udp') is not a TCP socket"),
            (unix, nil, "inherited descriptor \(unix) is not an IPv4 or IPv6 socket (AF_UNIX)"),
            (closedDescriptor, "gone", "inherited descriptor \(closedDescriptor) ('gone') is not open"),
        ]
        for (descriptor, name, message) in cases {
            XCTAssertThrowsError(try InheritedListeners.validate(descriptor: descriptor, name: name), message) {
                error in
                XCTAssertEqual((error as? TrustError)?.message, message)
                XCTAssertEqual((error as? TrustError)?.exitCode, 78)
            }
        }
    }

    /// A plain blocking, inheritable listening socket, the way a supervisor hands one over.
    static func listeningSocket(family: Int32, host: String) throws -> Int32 {
        var storage = sockaddr_storage()
        var length = socklen_t(0)
        guard cnet_resolve(host, 0, 1, &storage, &length) == 0 else { throw TrustError.config("resolve \(host)") }
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TrustError.config("socket") }
        let bound = withUnsafeBytes(of: &storage) { raw in
            bind(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
        guard bound == 0, listen(descriptor, 8) == 0 else {
            close(descriptor)
            throw TrustError.config("bind/listen \(host)")
        }
        return descriptor
    }
}

import CNetShim
import Glibc
import XCTest

final class ErrnoNameTests: XCTestCase {
    private func name(_ code: Int32) -> String { String(cString: cnet_errno_name(code)) }

    func testErrnoNameOfPositiveValue() {
        XCTAssertEqual(name(ECONNRESET), "ECONNRESET")
    }

    /// The shim returns -errno, so the negative form must name the same error.
    func testErrnoNameOfNegativeValue() {
        XCTAssertEqual(name(-ECONNRESET), "ECONNRESET")
        XCTAssertEqual(name(-ETIMEDOUT), "ETIMEDOUT")
    }

    func testErrnoNamesOfCommonNetworkErrors() {
        XCTAssertEqual(name(EPIPE), "EPIPE")
        XCTAssertEqual(name(EAGAIN), "EAGAIN")
        XCTAssertEqual(name(EWOULDBLOCK), "EAGAIN", "the same value on Linux")
        XCTAssertEqual(name(EMFILE), "EMFILE")
        XCTAssertEqual(name(-EADDRINUSE), "EADDRINUSE")
        XCTAssertEqual(name(ECONNREFUSED), "ECONNREFUSED")
        XCTAssertEqual(name(EINTR), "EINTR")
    }

    func testErrnoNameOfUnknownValueIsEUNKNOWN() {
        XCTAssertEqual(name(0), "EUNKNOWN")
        XCTAssertEqual(name(9999), "EUNKNOWN")
        XCTAssertEqual(name(-9999), "EUNKNOWN")
        XCTAssertEqual(name(Int32.max), "EUNKNOWN")
        XCTAssertEqual(name(Int32.min), "EUNKNOWN", "no overflow when negating")
    }
}

import CNetShim
import XCTest

/// The shim's first check; the full C-level suite lives beside it.
final class ShimSmokeTests: XCTestCase {
    func testErrnoNamesAreSymbolic() {
        XCTAssertEqual(String(cString: cnet_errno_name(ECONNRESET)), "ECONNRESET")
        XCTAssertEqual(String(cString: cnet_errno_name(-EPIPE)), "EPIPE")
    }
}

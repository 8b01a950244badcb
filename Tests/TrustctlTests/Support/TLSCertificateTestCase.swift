import XCTest

/// The base of the test classes that need TLS certificates: one set made by `openssl`
/// for the class (`TLSCertificates.make`), removed after its last test.
class TLSCertificateTestCase: XCTestCase {
    nonisolated(unsafe) static var shared: TLSCertificates?

    override class func setUp() {
        super.setUp()
        shared = try? TLSCertificates.make()
    }

    override class func tearDown() {
        shared?.remove()
        shared = nil
        super.tearDown()
    }

    func certs() throws -> TLSCertificates {
        try XCTUnwrap(Self.shared, "openssl could not make the test certificates")
    }
}

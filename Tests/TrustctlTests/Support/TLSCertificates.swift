import Foundation
import XCTest

/// Certificates made for one test run with the openssl tool, in a private
/// temporary directory (never committed): a CA, a server certificate for
/// localhost/127.0.0.1/::1 signed by it, an expired one, a client
/// certificate, and a second CA that signed nothing the server uses.
struct TLSCertificates {
    let directory: URL
    var caCert: String { path("ca.pem") }
    var otherCACert: String { path("other-ca.pem") }
    var serverCert: String { path("server.pem") }
    var serverKey: String { path("server.key") }
    var expiredCert: String { path("expired.pem") }
    var clientCert: String { path("client.pem") }
    var clientKey: String { path("client.key") }
    /// server.key encrypted with a pass phrase (the server refuses it).
    var encryptedKey: String { path("encrypted.key") }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func make() throws -> TLSCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "trustctl-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TLSCertificates(directory: directory)
        try certificates.generate()
        return certificates
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private func generate() throws {
        try write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
        try write("client.ext", "extendedKeyUsage=clientAuth\n")
        for ca in ["ca", "other-ca"] {
            try openssl(
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "\(ca).key", "-out", "\(ca).pem", "-subj", "/CN=trustctl test \(ca)", "-days", "2")
        }
        try signed("server", subject: "/CN=localhost", days: "2", ext: "server.ext")
        try openssl(
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "expired.pem", "-days", "-1", "-extfile", "server.ext")
        try signed("client", subject: "/CN=test client", days: "2", ext: "client.ext")
        try openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret", "-out", "encrypted.key")
    }

    private func signed(_ name: String, subject: String, days: String, ext: String) throws {
        try openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
            "-out", "\(name).csr", "-subj", subject)
        try openssl(
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "\(name).pem", "-days", days, "-extfile", ext)
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    private func openssl(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            throw NSError(
                domain: "TLSCertificates", code: Int(process.terminationStatus),
                userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.joined(separator: " ")) failed"])
        }
    }
}

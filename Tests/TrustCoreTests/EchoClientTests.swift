import CNetShim
import Foundation
import XCTest

@testable import TrustCore

final class EchoClientTests: XCTestCase {
    /// Runs a client and returns its output lines, or the error it threw.
    private func run(_ options: EchoClient.Options) -> (lines: [String], error: TrustError?) {
        var lines: [String] = []
        do {
            let client = try EchoClient(options: options)
            try client.run { lines.append($0) }
            return (lines, nil)
        } catch {
            return (lines, error)
        }
    }

    func testFramedMessagesAreEchoedAndPrintedInOrder() throws {
        let port = try EchoServerFixture.port()
        let result = run(.init(host: "127.0.0.1", port: port, messages: ["hello framed", "MSG_A", "", "ünïcode ✓"]))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["hello framed", "MSG_A", "", "ünïcode ✓"])
    }

    func testCountSendsEachMessageThatManyTimes() throws {
        let port = try EchoServerFixture.port()
        let result = run(.init(host: "127.0.0.1", port: port, messages: ["a", "b"], count: 3))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["a", "a", "a", "b", "b", "b"])
    }

    func testHostnameAndIPv6LiteralReachTheServer() throws {
        let port = try EchoServerFixture.port()
        for host in ["localhost", "::1"] {
            let result = run(.init(host: host, port: port, messages: ["via \(host)"]))
            XCTAssertNil(result.error, host)
            XCTAssertEqual(result.lines, ["via \(host)"])
        }
    }

    func testGeneratedPayloadIsVerified() throws {
        let port = try EchoServerFixture.port()
        let result = run(.init(host: "127.0.0.1", port: port, messages: [], payloadSize: 65536))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["echoed 65536 bytes, verified"])
    }

    func testPayloadAboveTheServersMaxFrameIsClosedEarly() throws {
        let port = try EchoServerFixture.port()
        let result = run(.init(host: "127.0.0.1", port: port, messages: [], payloadSize: 70000))
        let error = try XCTUnwrap(result.error)
        XCTAssertEqual(error.exitStatus, .ioError, error.message)
        XCTAssertTrue(error.message.contains("of 70004 echo bytes"), error.message)
        XCTAssertEqual(result.lines, [])
    }

    func testRawSendsLinesHalfClosesAndReadsToEnd() throws {
        let port = try EchoServerFixture.port()
        let result = run(.init(host: "127.0.0.1", port: port, messages: ["raw test", "second"], raw: true))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["raw test", "second"])
    }

    func testRawPayloadLargerThanSocketBuffersIsVerified() throws {
        // Larger than what loopback buffers hold: the client must read while
        // it sends, or the server's backpressure would stall both.
        let port = try EchoServerFixture.port()
        let result = run(.init(host: "127.0.0.1", port: port, messages: [], payloadSize: 3_000_000, raw: true))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["echoed 3000000 bytes, verified"])
    }

    func testRefusedConnectionIsUnavailable() throws {
        let port = try closedLoopbackPort()
        let result = run(.init(host: "127.0.0.1", port: port, messages: ["x"], timeout: 2))
        let error = try XCTUnwrap(result.error)
        XCTAssertEqual(error.exitStatus, .unavailable, error.message)
        XCTAssertEqual(error.errno, .connectionRefused)
        XCTAssertTrue(error.message.hasPrefix("cannot connect to 127.0.0.1:\(port)"), error.message)
    }

    func testAlteredEchoIsADataError() throws {
        let peer = try FakePeer(FakePeer.alteringEcho)
        defer { peer.stop() }
        for raw in [false, true] {
            let result = run(.init(host: "127.0.0.1", port: peer.port, messages: ["hello"], raw: raw, timeout: 5))
            let error = try XCTUnwrap(result.error)
            XCTAssertEqual(error.exitStatus, .dataError, error.message)
            XCTAssertTrue(error.message.contains("echo differs"), error.message)
        }
    }

    func testSilentServerTimesOut() throws {
        let peer = try FakePeer(FakePeer.silent)
        defer { peer.stop() }
        let result = run(.init(host: "127.0.0.1", port: peer.port, messages: ["anyone?"], timeout: 0.3))
        let error = try XCTUnwrap(result.error)
        XCTAssertEqual(error.exitStatus, .temporaryFailure, error.message)
        XCTAssertTrue(error.message.contains("timed out after 0.3 s"), error.message)
    }

    func testServerClosingMidEchoIsAnIOError() throws {
        let peer = try FakePeer(FakePeer.closesAfter(6))
        defer { peer.stop() }
        let result = run(.init(host: "127.0.0.1", port: peer.port, messages: ["hello world"], timeout: 5))
        let error = try XCTUnwrap(result.error)
        XCTAssertEqual(error.exitStatus, .ioError, error.message)
        XCTAssertEqual(error.message, "server closed the connection after 6 of 15 echo bytes")
    }

    func testUsageErrors() {
        let cases: [EchoClient.Options] = [
            .init(host: "h", port: 1, messages: []),
            .init(host: "h", port: 1, messages: ["a"], payloadSize: 10),
            .init(host: "h", port: 1, messages: [], payloadSize: -1),
            .init(host: "h", port: 1, messages: [], payloadSize: 0, raw: true),
            .init(host: "h", port: 1, messages: ["a"], timeout: 0),
            .init(host: "h", port: 1, messages: ["a"], count: 0),
        ]
        for options in cases {
            XCTAssertThrowsError(try options.validate(), "\(options)") { error in
                XCTAssertEqual((error as? TrustError)?.exitStatus, .usage)
            }
        }
        XCTAssertNoThrow(try EchoClient.Options(host: "h", port: 1, messages: [], payloadSize: 0).validate())
    }

    func testTimeoutMillisecondsSaturateInsteadOfTrapping() {
        XCTAssertEqual(EchoClient.milliseconds(seconds: 10), 10_000)
        XCTAssertEqual(EchoClient.milliseconds(seconds: 0.0001), 1)
        XCTAssertEqual(EchoClient.milliseconds(seconds: 1e-300), 1)
        XCTAssertEqual(EchoClient.milliseconds(seconds: 1.0005), 1001)
        XCTAssertEqual(EchoClient.milliseconds(seconds: 1e300), .max)
        XCTAssertEqual(EchoClient.milliseconds(seconds: .infinity), .max)
        XCTAssertEqual(EchoClient.milliseconds(seconds: .nan), 1)
    }

    func testPayloadPatternIsPrintableDeterministicAndOffsetsStayInThePeriod() {
        let a = PayloadPattern.bytes(count: 1000)
        XCTAssertEqual(a, PayloadPattern.bytes(count: 1000))
        XCTAssertTrue(a.allSatisfy { (0x21...0x7E).contains($0) })
        XCTAssertEqual(PayloadPattern.bytes(count: 10, offset: 5), Array(a[5..<15]))
        XCTAssertGreaterThan(Set(a).count, 80)
        for client in [0, 1, 999_999, Int.max / 3] {
            for message in [0, 1, 12345] {
                XCTAssertTrue(
                    (0..<PayloadPattern.period).contains(PayloadPattern.offset(client: client, message: message)))
            }
        }
        XCTAssertNotEqual(PayloadPattern.offset(client: 0, message: 0), PayloadPattern.offset(client: 0, message: 1))
        XCTAssertNotEqual(PayloadPattern.offset(client: 0, message: 0), PayloadPattern.offset(client: 1, message: 0))
    }
}

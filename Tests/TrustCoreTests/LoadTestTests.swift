import Foundation
import TrustCore
import XCTest

final class LoadTestTests: XCTestCase {
    private func run(_ options: LoadTestOptions) throws -> LoadTestReport {
        try LoadTest(options: options).run()
    }

    private func assertAllVerified(
        _ report: LoadTestReport, _ expected: Int, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(report.ok, expected, report.summary, file: file, line: line)
        XCTAssertEqual(report.failed, 0, report.summary, file: file, line: line)
        XCTAssertEqual(report.exitStatus, .success, file: file, line: line)
        XCTAssertNil(report.error, file: file, line: line)
        XCTAssertEqual(report.tally.latency.count, UInt64(expected), file: file, line: line)
        XCTAssertTrue(
            report.summary.hasPrefix("\(expected)/\(expected) ok, 0 failed\n"), report.summary, file: file, line: line)
    }

    func testHundredSequentialClientsOfTenMessages() throws {
        let port = try EchoServerFixture.port()
        let report = try run(.init(host: "127.0.0.1", port: port, clients: 100, messages: 10))
        assertAllVerified(report, 1000)
        XCTAssertEqual(report.tally.connections, 100)
        XCTAssertEqual(report.tally.bytesSent, 1000 * 68)
        XCTAssertEqual(report.tally.bytesReceived, 1000 * 68)
    }

    func testFiftyConcurrentClientsOfHundredFramedMessages() throws {
        let port = try EchoServerFixture.port()
        let report = try run(.init(host: "127.0.0.1", port: port, clients: 50, messages: 100, concurrency: 50))
        assertAllVerified(report, 5000)
        XCTAssertEqual(report.tally.connections, 50)
    }

    func testRawModeAndPayloadsSplitAcrossManyReads() throws {
        let port = try EchoServerFixture.port()
        let small = try run(
            .init(host: "::1", port: port, clients: 20, messages: 20, concurrency: 5, payloadSize: 1000, mode: .raw))
        assertAllVerified(small, 400)
        // Larger than one recv buffer and than the socket buffers: partial
        // sends, echoes arriving in many pieces.
        let large = try run(
            .init(
                host: "localhost", port: port, clients: 3, messages: 3, concurrency: 3, payloadSize: 1_000_000,
                mode: .raw))
        assertAllVerified(large, 9)
    }

    func testEmptyFramesAreValidRoundTrips() throws {
        let port = try EchoServerFixture.port()
        let report = try run(.init(host: "127.0.0.1", port: port, clients: 2, messages: 5, payloadSize: 0))
        assertAllVerified(report, 10)
        XCTAssertEqual(report.tally.bytesReceived, 10 * 4)
    }

    func testThreadsSplitTheClients() throws {
        let port = try EchoServerFixture.port()
        let report = try run(.init(host: "127.0.0.1", port: port, clients: 11, messages: 7, concurrency: 5, threads: 2))
        assertAllVerified(report, 77)
        XCTAssertEqual(report.tally.connections, 11)
    }

    func testOpenLoopRateFollowsTheSchedule() throws {
        let port = try EchoServerFixture.port()
        // 40 round trips at 200/s: the last is scheduled 195 ms after the start.
        let report = try run(
            .init(host: "127.0.0.1", port: port, clients: 4, messages: 10, concurrency: 4, rate: 200, connectRate: 1000)
        )
        assertAllVerified(report, 40)
        XCTAssertGreaterThanOrEqual(report.wallSeconds, 0.19, "sends must wait for their scheduled times")
        XCTAssertTrue(report.summary.contains("(from scheduled send times)"))
    }

    func testDurationStopsByItselfWithClientsCycling() throws {
        let port = try EchoServerFixture.port()
        let report = try run(
            .init(host: "127.0.0.1", port: port, clients: 2, messages: 5, concurrency: 2, duration: 0.3, rate: 500))
        XCTAssertGreaterThan(report.ok, 10, report.summary)
        XCTAssertEqual(report.failed, 0, report.summary)
        XCTAssertEqual(report.exitStatus, .success)
        XCTAssertGreaterThan(report.tally.connections, 2, "sessions of 5 messages must cycle")
        XCTAssertGreaterThanOrEqual(report.wallSeconds, 0.3)
    }

    func testJSONRepeatsEveryParameter() throws {
        let port = try EchoServerFixture.port()
        let options = LoadTestOptions(
            host: "127.0.0.1", port: port, clients: 3, messages: 4, concurrency: 2, payloadSize: 10, mode: .raw,
            rate: 1000, connectRate: 500)
        let report = try run(options)
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any], report.json)
        XCTAssertEqual(object["host"] as? String, "127.0.0.1")
        XCTAssertEqual(object["port"] as? Int, Int(port))
        XCTAssertEqual(object["clients"] as? Int, 3)
        XCTAssertEqual(object["messages"] as? Int, 4)
        XCTAssertEqual(object["concurrency"] as? Int, 2)
        XCTAssertEqual(object["payload_size"] as? Int, 10)
        XCTAssertEqual(object["mode"] as? String, "raw")
        XCTAssertTrue(object["duration"] is NSNull)
        XCTAssertEqual(object["rate"] as? Double, 1000)
        XCTAssertEqual(object["connect_rate"] as? Double, 500)
        XCTAssertEqual(object["ok"] as? Int, 12)
        XCTAssertEqual(object["failed"] as? Int, 0)
        XCTAssertEqual(object["exit_code"] as? Int, 0)
        let errors = try XCTUnwrap(object["connections_failed_by_kind"] as? [String: Int])
        XCTAssertEqual(Set(errors.keys), ["refused", "reset", "timeout", "mismatch", "closed_early", "other"])
        let latency = try XCTUnwrap(object["latency_us"] as? [String: Any])
        for key in ["p50", "p90", "p99", "p99_9", "max"] { XCTAssertNotNil(latency[key] as? Int, key) }
    }

    func testServerClosingEarlyIsCountedByKind() throws {
        // The peer echoes 10 bytes of each connection's first 68-byte frame, then closes.
        let peer = try FakePeer(FakePeer.closesAfter(10))
        defer { peer.stop() }
        let report = try run(
            .init(host: "127.0.0.1", port: peer.port, clients: 5, messages: 3, concurrency: 2, timeout: 5))
        XCTAssertEqual(report.ok, 0)
        XCTAssertEqual(report.failed, 15, "each failed session loses all of its planned round trips")
        XCTAssertEqual(report.failures(.closedEarly), 5)
        XCTAssertEqual(report.failures(.timeout), 0)
        XCTAssertEqual(report.exitStatus, .ioError)
        XCTAssertEqual(report.error?.exitStatus, .ioError)
        XCTAssertTrue(report.summary.hasPrefix("0/15 ok, 15 failed\n"), report.summary)
        XCTAssertTrue(report.summary.contains("closed_early 5"), report.summary)
        XCTAssertTrue(report.failureLine?.contains("after 10 of 68 echo bytes") == true, report.failureLine ?? "")
    }

    func testConnectionClosedWhileWaitingForItsScheduledSendIsAFailureNotATrap() throws {
        // The peer echoes one 68-byte frame, then closes: each connection is
        // closed while it waits for its next scheduled send (every 0.5 s),
        // and its slot reconnects and is scheduled again.
        let peer = try FakePeer(FakePeer.closesAfter(68))
        defer { peer.stop() }
        let report = try run(.init(host: "127.0.0.1", port: peer.port, clients: 3, messages: 3, rate: 2, timeout: 5))
        XCTAssertEqual(report.ok, 3, report.summary)
        XCTAssertEqual(report.failed, 6, report.summary)
        XCTAssertEqual(report.failures(.closedEarly), 3, report.summary)
        XCTAssertEqual(report.exitStatus, .ioError)
        XCTAssertTrue(
            report.summary.contains("round trips failed: 6; connections failed by kind: closed_early 3"),
            report.summary)
        XCTAssertTrue(report.failureLine?.contains("between round trips") == true, report.failureLine ?? "")
    }

    func testNoSuccessfulRoundTripMeansNoLatency() throws {
        let port = try closedLoopbackPort()
        let report = try run(.init(host: "127.0.0.1", port: port, clients: 2, messages: 10))
        XCTAssertNil(report.latency)
        XCTAssertTrue(report.summary.contains("\nlatency: no successful round trip\n"), report.summary)
        XCTAssertFalse(report.summary.contains("p50"), report.summary)
        XCTAssertTrue(
            report.summary.contains("round trips failed: 20; connections failed by kind: refused 2\n"), report.summary)
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any], report.json)
        XCTAssertTrue(object["latency_us"] is NSNull, report.json)
        XCTAssertEqual(object["failed"] as? Int, 20)
        XCTAssertEqual(object["connections_failed"] as? Int, 2)
        XCTAssertEqual((object["connections_failed_by_kind"] as? [String: Int])?["refused"], 2)
        XCTAssertEqual(object["connections_opened"] as? Int, 0)
        XCTAssertEqual(object["planned"] as? Int, 20)
        XCTAssertTrue(object["interrupted_by"] is NSNull, report.json)
    }

    func testRefusedConnectionsAreUnavailable() throws {
        let port = try closedLoopbackPort()
        let report = try run(.init(host: "127.0.0.1", port: port, clients: 3, messages: 2))
        XCTAssertEqual(report.failures(.refused), 3)
        XCTAssertEqual(report.failed, 6)
        XCTAssertEqual(report.exitStatus, .unavailable)
        XCTAssertEqual(report.error?.exitStatus, .unavailable)
    }

    func testAlteredEchoIsAMismatch() throws {
        let peer = try FakePeer(FakePeer.alteringEcho)
        defer { peer.stop() }
        let report = try run(.init(host: "127.0.0.1", port: peer.port, clients: 2, messages: 2, timeout: 5))
        XCTAssertEqual(report.failures(.mismatch), 2)
        XCTAssertEqual(report.exitStatus, .dataError)
        XCTAssertEqual(report.error?.exitStatus, .dataError)
    }

    func testStalledServerGivesTimeoutsNotAHang() throws {
        let peer = try FakePeer(FakePeer.silent)
        defer { peer.stop() }
        let report = try run(
            .init(host: "127.0.0.1", port: peer.port, clients: 4, messages: 5, concurrency: 4, timeout: 0.3))
        XCTAssertEqual(report.failures(.timeout), 4)
        XCTAssertEqual(report.failed, 20)
        XCTAssertEqual(report.exitStatus, .temporaryFailure)
        XCTAssertEqual(report.error?.exitStatus, .temporaryFailure)
    }

    func testInvalidOptionsAreUsageErrors() {
        let base = LoadTestOptions(host: "h", port: 1, clients: 1, messages: 1)
        var cases: [LoadTestOptions] = []
        var o = base
        o.clients = 0
        cases.append(o)
        o = base
        o.messages = 0
        cases.append(o)
        o = base
        o.concurrency = 0
        cases.append(o)
        o = base
        o.mode = .raw
        o.payloadSize = 0
        cases.append(o)
        o = base
        o.payloadSize = -1
        cases.append(o)
        o = base
        o.rate = 0
        cases.append(o)
        o = base
        o.connectRate = -5
        cases.append(o)
        o = base
        o.duration = 0
        cases.append(o)
        o = base
        o.timeout = .nan
        cases.append(o)
        o = base
        o.threads = 0
        cases.append(o)
        for options in cases {
            XCTAssertThrowsError(try options.validate(), "\(options)") { error in
                XCTAssertEqual((error as? TrustError)?.exitStatus, .usage)
            }
        }
        XCTAssertNoThrow(try base.validate())
    }

    func testConcurrencyIsCappedAtClients() {
        let options = LoadTestOptions(host: "h", port: 1, clients: 3, messages: 1, concurrency: 100, threads: 8)
        XCTAssertEqual(options.effectiveConcurrency, 3)
    }
}

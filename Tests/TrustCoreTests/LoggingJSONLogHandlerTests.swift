import Foundation
import Logging
import XCTest

@testable import TrustCore

final class LoggingJSONLogHandlerTests: XCTestCase {
    private var directory: LoggingTemporaryDirectory!
    private var writer: LogWriter!
    private var logPath: String { directory.file("trustctl.log") }

    override func setUpWithError() throws {
        directory = try LoggingTemporaryDirectory()
        writer = try LogWriter(path: directory.file("trustctl.log"))
    }

    override func tearDown() {
        writer.close()
        writer = nil
        directory = nil
    }

    private func makeLogger(level: Logger.Level = .info, metadata: Logger.Metadata = [:]) -> Logger {
        let writer = self.writer!
        return Logger(label: "test") { _ in
            JSONLogHandler(writer: writer, level: level, metadata: metadata)
        }
    }

    private func writtenObjects() throws -> [[String: Any]] {
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        return try LoggingTestSupport.objects(ofFile: logPath)
    }

    func testEveryLineHasTsLevelEventPidFirst() throws {
        let logger = makeLogger()
        logger.info("server_started", metadata: ["port": .stringConvertible(8080)])
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let lines = try LoggingTestSupport.lines(ofFile: logPath)
        XCTAssertEqual(lines.count, 1)
        let line = try XCTUnwrap(lines.first)
        XCTAssertTrue(line.hasPrefix("{\"ts\":\""), line)
        let order = ["\"ts\":", "\"level\":", "\"event\":", "\"pid\":", "\"port\":"].map {
            line.range(of: $0)?.lowerBound
        }
        XCTAssertFalse(order.contains(nil), line)
        XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), line)

        let object = try LoggingTestSupport.object(line)
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["event"] as? String, "server_started")
        XCTAssertEqual((object["pid"] as? NSNumber)?.int32Value, getpid())
        XCTAssertEqual((object["port"] as? NSNumber)?.intValue, 8080)
        let ts = try XCTUnwrap(object["ts"] as? String)
        XCTAssertTrue(LoggingTestSupport.isRFC3339Milliseconds(ts), ts)
    }

    func testEveryLevelHasItsName() throws {
        let logger = makeLogger(level: .trace)
        for level in Logger.Level.allCases {
            logger.log(level: level, "level_check")
        }
        let levels = try writtenObjects().compactMap { $0["level"] as? String }
        XCTAssertEqual(levels, ["trace", "debug", "info", "notice", "warning", "error", "critical"])
    }

    struct Peer: CustomStringConvertible, Sendable {
        var description: String { "127.0.0.1:4242" }
    }

    func testMetadataValueTypes() throws {
        let logger = makeLogger()
        logger.info(
            "connection_closed",
            metadata: [
                "bytes_in": .stringConvertible(12),
                "bytes_out": .stringConvertible(Int64(-7)),
                "frames": .stringConvertible(UInt32(3)),
                "big": .stringConvertible(UInt64.max),
                "small": .stringConvertible(Int16.min),
                "port": .stringConvertible(UInt16(65535)),
                "duration_ms": .stringConvertible(1.5),
                "ratio": .stringConvertible(Float(0.25)),
                "not_a_number": .stringConvertible(Double.nan),
                "clean": .stringConvertible(true),
                "peer": .stringConvertible(Peer()),
                "reason": "peer_closed",
                "list": [.stringConvertible(1), "two"],
                "nested": ["inner": .stringConvertible(2), "text": "x"],
            ])
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let line = try XCTUnwrap(LoggingTestSupport.lines(ofFile: logPath).first)
        // Raw text: numbers are unquoted, exactly as Swift prints them.
        for fragment in [
            "\"bytes_in\":12", "\"bytes_out\":-7", "\"frames\":3", "\"big\":18446744073709551615",
            "\"small\":-32768", "\"port\":65535", "\"duration_ms\":1.5", "\"ratio\":0.25",
            "\"not_a_number\":\"nan\"", "\"clean\":true", "\"list\":[1,\"two\"]",
            "\"nested\":{\"inner\":2,\"text\":\"x\"}",
        ] {
            XCTAssertTrue(line.contains(fragment), "\(fragment) not in \(line)")
        }
        let object = try LoggingTestSupport.object(line)
        XCTAssertEqual(object["peer"] as? String, "127.0.0.1:4242")
        XCTAssertEqual(object["reason"] as? String, "peer_closed")
        XCTAssertEqual((object["bytes_in"] as? NSNumber)?.intValue, 12)
        XCTAssertEqual((object["duration_ms"] as? NSNumber)?.doubleValue, 1.5)
        XCTAssertEqual((object["list"] as? [Any])?.count, 2)
        XCTAssertEqual(((object["nested"] as? [String: Any])?["inner"] as? NSNumber)?.intValue, 2)
    }

    func testStringsAreEscaped() throws {
        let tricky =
            "quote \" backslash \\ newline \n tab \t cr \r bell \u{07} nul \u{00} del \u{7F} héllo ✓ 😀"
        let logger = makeLogger()
        logger.info("event \"with\" quotes\n", metadata: ["text": "\(tricky)", "key \"odd\"\n": "v"])
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let lines = try LoggingTestSupport.lines(ofFile: logPath)
        XCTAssertEqual(lines.count, 1, "a newline inside a value must not split the line")
        let line = try XCTUnwrap(lines.first)
        XCTAssertTrue(line.contains(#"\u0007"#), line)
        XCTAssertTrue(line.contains(#"\u0000"#), line)
        XCTAssertTrue(line.contains(#"\n"#), line)
        XCTAssertTrue(line.contains("héllo ✓ 😀"), "valid UTF-8 is copied, not escaped: \(line)")

        let object = try LoggingTestSupport.object(line)
        XCTAssertEqual(object["text"] as? String, tricky)
        XCTAssertEqual(object["event"] as? String, "event \"with\" quotes\n")
        XCTAssertEqual(object["key \"odd\"\n"] as? String, "v")
    }

    func testPerCallMetadataOverridesHandlerMetadata() throws {
        var logger = makeLogger(metadata: ["worker": "1", "peer": "from-init"])
        logger[metadataKey: "request_id"] = "r-1"
        logger.info("connection_accepted", metadata: ["peer": "from-call"])
        logger.info("second")

        let objects = try writtenObjects()
        XCTAssertEqual(objects.count, 2)
        XCTAssertEqual(objects[0]["peer"] as? String, "from-call")
        XCTAssertEqual(objects[0]["worker"] as? String, "1")
        XCTAssertEqual(objects[0]["request_id"] as? String, "r-1")
        XCTAssertEqual(objects[1]["peer"] as? String, "from-init", "a call's metadata must not stick")
    }

    func testMetadataProviderSitsBetweenHandlerAndCallMetadata() throws {
        let writer = self.writer!
        let provider = Logger.MetadataProvider { ["trace": "provided", "peer": "provided"] }
        let logger = Logger(label: "test") { _ in
            JSONLogHandler(writer: writer, metadata: ["trace": "handler"], metadataProvider: provider)
        }
        logger.info("provided", metadata: ["peer": "call"])
        let object = try XCTUnwrap(writtenObjects().first)
        XCTAssertEqual(object["trace"] as? String, "provided")
        XCTAssertEqual(object["peer"] as? String, "call")
    }

    func testReservedMetadataKeysArePrefixed() throws {
        let logger = makeLogger()
        logger.warning(
            "accept_paused",
            metadata: ["level": "bogus", "event": "bogus", "ts": "bogus", "pid": .stringConvertible(1)])
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let line = try XCTUnwrap(LoggingTestSupport.lines(ofFile: logPath).first)
        for key in ["ts", "level", "event", "pid"] {
            XCTAssertEqual(
                line.components(separatedBy: "\"\(key)\":").count, 2, "\(key) twice in \(line)")
        }
        let object = try LoggingTestSupport.object(line)
        XCTAssertEqual(object["level"] as? String, "warning")
        XCTAssertEqual(object["event"] as? String, "accept_paused")
        XCTAssertEqual(object["meta_level"] as? String, "bogus")
        XCTAssertEqual(object["meta_event"] as? String, "bogus")
        XCTAssertEqual(object["meta_ts"] as? String, "bogus")
        XCTAssertEqual((object["meta_pid"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual((object["pid"] as? NSNumber)?.int32Value, getpid())
    }

    func testErrorBecomesAField() throws {
        let logger = makeLogger()
        let failure = TrustError.system(.connectionReset, operation: "recv")
        logger.log(level: .error, "recv_failed", error: failure)
        let object = try XCTUnwrap(writtenObjects().first)
        XCTAssertEqual(object["error"] as? String, failure.description)
    }

    final class EvaluationCounter: @unchecked Sendable {
        var count = 0
    }

    func testDisabledLevelDoesNotEvaluateMessageOrMetadata() throws {
        let logger = makeLogger(level: .info)
        let counter = EvaluationCounter()
        func message() -> Logger.Message {
            counter.count += 1
            return "frame_echoed"
        }
        func metadata() -> Logger.Metadata {
            counter.count += 1
            return ["frames": .stringConvertible(1)]
        }
        logger.debug(message(), metadata: metadata())
        logger.trace(message(), metadata: metadata())
        XCTAssertEqual(counter.count, 0)

        logger.info(message(), metadata: metadata())
        XCTAssertEqual(counter.count, 2, "an enabled level evaluates both")
        XCTAssertEqual(try writtenObjects().count, 1)
    }

    func testTimestampIsRFC3339UTCWithMilliseconds() {
        let handler = JSONLogHandler(writer: writer)
        let event = LogEvent(
            level: .info, message: "tick", metadata: nil, source: nil, file: #fileID, function: #function,
            line: #line)
        let line = handler.formatLine(
            event, at: LogTimestamp(seconds: 1_795_383_005, nanoseconds: 123_999_999))
        let text = String(decoding: line, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("{\"ts\":\"2026-11-22T21:30:05.123Z\","), text)
    }

    func testCivilDateMatchesGmtime() {
        // Across leap days, century rules and before the epoch.
        let samples: [Int64] = [
            0, -1, 951_868_799, 951_868_800, 1_795_383_005, 4_107_542_400, -2_208_988_800,
            253_402_300_799,
        ]
        let stride = Swift.stride(from: Int64(-3_000_000_000), to: 5_000_000_000, by: 7_777_777)
        for seconds in samples + Array(stride) {
            var time = time_t(seconds)
            var expected = tm()
            XCTAssertNotNil(gmtime_r(&time, &expected))
            let civil = LogTimestamp(seconds: seconds, nanoseconds: 0).civil
            XCTAssertEqual(civil.year, Int64(expected.tm_year) + 1900, "\(seconds)")
            XCTAssertEqual(civil.month, Int(expected.tm_mon) + 1, "\(seconds)")
            XCTAssertEqual(civil.day, Int(expected.tm_mday), "\(seconds)")
            XCTAssertEqual(civil.hour, Int(expected.tm_hour), "\(seconds)")
            XCTAssertEqual(civil.minute, Int(expected.tm_min), "\(seconds)")
            XCTAssertEqual(civil.second, Int(expected.tm_sec), "\(seconds)")
        }
    }
}

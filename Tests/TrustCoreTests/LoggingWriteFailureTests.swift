import Foundation
import Logging
import XCTest

@testable import TrustCore

/// A failing write (here: the file size limit, EFBIG) loses whole lines
/// only, counts them, and the log says so once writes work again.
final class LoggingWriteFailureTests: LoggingDirectoryTestCase {
    /// Runs `body` with this process's file size limit at `bytes`, restored
    /// after. The limit only bites writes to regular files.
    private func withFileSizeLimit(_ bytes: rlim_t, _ body: () throws -> Void) throws {
        var saved = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved), 0)
        var limited = rlimit(rlim_cur: bytes, rlim_max: saved.rlim_max)
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limited), 0)
        defer { setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved) }
        try body()
    }

    /// `{"n":1042,"pad":"xxxxxx"}`: 25 bytes, 26 with the newline, for 0..<1000.
    private func fixedLine(_ number: Int) -> [UInt8] {
        Array("{\"n\":\(1000 + number),\"pad\":\"xxxxxx\"}".utf8)
    }

    func testAFileSizeLimitLosesWholeLinesOnlyAndTheLossIsReported() throws {
        let path = directory.file("limited.log")
        // Creating the writer ignores SIGXFSZ, which would kill the process.
        let writer = try LogWriter(path: path)
        defer { writer.close() }
        try withFileSizeLimit(1000) {
            for number in 0..<100 { XCTAssertTrue(writer.enqueue(fixedLine(number))) }
            XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        }
        // 38 lines of 26 bytes fit in 1000; the 39th would be cut.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.utf8.count, 38 * 26)
        XCTAssertTrue(text.hasSuffix("\n"), "no torn last line")
        let kept = try LoggingTestSupport.objects(ofFile: path)
        XCTAssertEqual(kept.compactMap { ($0["n"] as? NSNumber)?.intValue }, Array(1000..<1038))
        let failed = writer.statistics
        XCTAssertEqual(failed.linesLost, 62)
        XCTAssertEqual(failed.linesDropped, 62)
        XCTAssertEqual(failed.linesWritten, 38)
        XCTAssertGreaterThanOrEqual(failed.writeErrors, 1)
        XCTAssertEqual(failed.lastErrno, Errno(rawValue: EFBIG))

        // Room again: the next write says what was lost, then carries on.
        XCTAssertTrue(writer.enqueue(Array("{\"after\":true}".utf8)))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let objects = try LoggingTestSupport.objects(ofFile: path)
        XCTAssertEqual(objects.count, 40)
        let report = objects[38]
        XCTAssertEqual(report["event"] as? String, "log_lines_dropped")
        XCTAssertEqual((report["count"] as? NSNumber)?.intValue, 62)
        XCTAssertEqual((report["write_failed"] as? NSNumber)?.intValue, 62)
        XCTAssertEqual((report["queue_full"] as? NSNumber)?.intValue, 0)
        XCTAssertEqual(report["errno"] as? String, "EFBIG")
        XCTAssertEqual(objects[39]["after"] as? Bool, true)
        XCTAssertEqual(writer.statistics.linesDropped, 62, "a report does not count as a loss")
    }

    func testALostReportIsCarriedToTheNextWriteThatSucceeds() throws {
        let path = directory.file("carried.log")
        // A one-line queue refuses lines while the limit is in force, so
        // later batches carry a drop report that cannot be written either.
        let writer = try LogWriter(path: path, maxQueuedLines: 1)
        defer { writer.close() }
        var refused = 0
        try withFileSizeLimit(0) {
            for number in 0..<200 where !writer.enqueue(fixedLine(number)) { refused += 1 }
            XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        }
        let lost = writer.statistics
        XCTAssertEqual(Int(lost.linesRefused), refused)
        XCTAssertEqual(Int(lost.linesRefused + lost.linesLost), 200)
        XCTAssertEqual(lost.linesWritten, 0)
        XCTAssertTrue(try LoggingTestSupport.lines(ofFile: path).isEmpty)

        XCTAssertTrue(writer.enqueue(Array("{\"after\":true}".utf8)))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let objects = try LoggingTestSupport.objects(ofFile: path)
        XCTAssertEqual(objects.map { $0["event"] as? String }, ["log_lines_dropped", nil])
        XCTAssertEqual((objects[0]["count"] as? NSNumber)?.intValue, 200)
        XCTAssertEqual((objects[0]["queue_full"] as? NSNumber)?.intValue, refused)
        XCTAssertEqual((objects[0]["write_failed"] as? NSNumber)?.intValue, 200 - refused)
    }

    func testDroppedLinesAreReadableThroughTheLogger() throws {
        let path = directory.file("through-logger.log")
        let writer = try LogWriter(path: path, maxQueuedBytes: 16)
        defer { writer.close() }
        let logger = Logger(label: "test") { _ in JSONLogHandler(writer: writer, level: .info) }
        XCTAssertEqual(TrustLogging.droppedLines(for: logger), 0)
        // Every formatted line is longer than 16 bytes: refused.
        logger.info("connection_accepted")
        logger.info("connection_closed")
        XCTAssertEqual(TrustLogging.droppedLines(for: logger), 2)
        XCTAssertEqual(TrustLogging.droppedLines(for: Logger(label: "other") { _ in SwiftLogNoOpLogHandler() }), 0)
    }
}

/// The stderr side: one line a minute while writes fail, one when they work
/// again, and never a blocked writer thread.
final class LoggingWriteFailureNoticeTests: XCTestCase {
    private func makePipe() -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        return (ends[0], ends[1])
    }

    /// Everything in the pipe now (its read end is made non-blocking).
    private func drain(_ descriptor: Int32) -> String {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count <= 0 { break }
            collected += chunk[0..<count]
        }
        return String(decoding: collected, as: UTF8.self)
    }

    func testOneFailureLineAMinuteAndOneRecoveryLine() {
        let (readEnd, writeEnd) = makePipe()
        defer {
            close(readEnd)
            close(writeEnd)
        }
        var notices = LogWriteFailureNotices(descriptor: writeEnd)
        let full = Errno(rawValue: ENOSPC)
        notices.writeSucceeded(path: "/l", linesDropped: 0)
        notices.writeFailed(full, path: "/l", linesDropped: 3, now: 1000)
        notices.writeFailed(full, path: "/l", linesDropped: 9, now: 60_999)
        notices.writeSucceeded(path: "/l", linesDropped: 9)
        notices.writeSucceeded(path: "/l", linesDropped: 9)
        notices.writeFailed(full, path: "/l", linesDropped: 10, now: 30_000)
        notices.writeFailed(Errno(rawValue: EFBIG), path: "/l", linesDropped: 12, now: 61_000)
        XCTAssertEqual(
            drain(readEnd),
            """
            log write failed: ENOSPC (No space left on device) on /l; dropping lines (3 so far)
            log writes resumed on /l; 9 lines dropped in all
            log write failed: EFBIG (File too large) on /l; dropping lines (12 so far)

            """)
    }

    func testAStderrNobodyReadsNeverBlocksTheWriter() throws {
        let (readEnd, writeEnd) = makePipe()
        defer {
            close(readEnd)
            close(writeEnd)
        }
        // Fill the pipe to the brim, then make its write end blocking again:
        // a plain write would now wait for a reader forever.
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        let filler = [UInt8](repeating: UInt8(ascii: "f"), count: 4096)
        while write(writeEnd, filler, filler.count) > 0 {}
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) & ~O_NONBLOCK)

        let returned = DispatchSemaphore(value: 0)
        let thread = Thread {
            var notices = LogWriteFailureNotices(descriptor: writeEnd)
            notices.writeFailed(Errno(rawValue: EIO), path: "/l", linesDropped: 1, now: 0)
            returned.signal()
        }
        thread.start()
        let inTime = returned.wait(timeout: .now() + 10) == .success
        // Unblocks the thread if it did block, so the test ends either way.
        if !inTime { _ = drain(readEnd) }
        XCTAssertTrue(inTime, "the notice waited on a full stderr")
        if !inTime { _ = returned.wait(timeout: .now() + 10) }
        XCTAssertFalse(drain(readEnd).contains("log write failed"), "a line that would block is skipped")
    }
}

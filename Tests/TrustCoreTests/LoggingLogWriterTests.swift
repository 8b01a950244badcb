import Foundation
import Logging
import XCTest

@testable import TrustCore

final class LoggingLogWriterTests: LoggingDirectoryTestCase {
    private func line(_ text: String) -> [UInt8] { Array(text.utf8) }

    func testFlushWritesEverythingInOrder() throws {
        let path = directory.file("all.log")
        let writer = try LogWriter(path: path)
        defer { writer.close() }
        for index in 0..<2000 {
            XCTAssertTrue(writer.enqueue(line("{\"n\":\(index)}")))
        }
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let lines = try LoggingTestSupport.lines(ofFile: path)
        XCTAssertEqual(lines, (0..<2000).map { "{\"n\":\($0)}" })
        XCTAssertEqual(writer.statistics.linesWritten, 2000)
        XCTAssertEqual(writer.statistics.linesDropped, 0)
    }

    func testFileIsCreatedWithMode0644AndAppended() throws {
        let path = directory.file("append.log")
        try "existing\n".write(toFile: path, atomically: false, encoding: .utf8)
        let writer = try LogWriter(path: path)
        writer.enqueue(line("new"))
        writer.close()
        XCTAssertEqual(try LoggingTestSupport.lines(ofFile: path), ["existing", "new"])

        let created = directory.file("created.log")
        let other = try LogWriter(path: created)
        other.close()
        let mode = try XCTUnwrap(
            FileManager.default.attributesOfItem(atPath: created)[.posixPermissions] as? Int)
        XCTAssertEqual(mode & ~0o022, 0o644 & ~0o022, "0644 masked by the umask")
    }

    func testOversizedLineIsDroppedAndReported() throws {
        let path = directory.file("oversized.log")
        let writer = try LogWriter(path: path, maxQueuedLines: 8, maxQueuedBytes: 64)
        defer { writer.close() }
        XCTAssertFalse(writer.enqueue([UInt8](repeating: UInt8(ascii: "x"), count: 100)))
        XCTAssertTrue(writer.enqueue(line("{\"fits\":true}")))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let objects = try LoggingTestSupport.objects(ofFile: path)
        let reports = objects.filter { $0["event"] as? String == "log_lines_dropped" }
        XCTAssertEqual(reports.count, 1)
        let report = try XCTUnwrap(reports.first)
        XCTAssertEqual((report["count"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual(report["level"] as? String, "warning")
        XCTAssertEqual((report["pid"] as? NSNumber)?.int32Value, getpid())
        XCTAssertTrue(LoggingTestSupport.isRFC3339Milliseconds(report["ts"] as? String ?? ""))
        XCTAssertEqual(objects.filter { $0["fits"] != nil }.count, 1)
        XCTAssertEqual(writer.statistics.linesDropped, 1)
    }

    func testADropIntoAnIdleWriterIsReportedByItself() throws {
        let path = directory.file("idle-drop.log")
        let writer = try LogWriter(path: path, maxQueuedBytes: 16)
        defer { writer.close() }
        // After a flush the writer is asleep on its condition variable: the
        // drop alone must wake it.
        XCTAssertTrue(writer.enqueue(line("{\"n\":1}")))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        XCTAssertFalse(writer.enqueue([UInt8](repeating: UInt8(ascii: "y"), count: 32)))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let objects = try LoggingTestSupport.objects(ofFile: path)
        XCTAssertEqual(objects.map { $0["event"] as? String }, [nil, "log_lines_dropped"])
        XCTAssertEqual((objects.last?["count"] as? NSNumber)?.intValue, 1)
    }

    func testFullQueueDropsAndReportsTheCount() throws {
        let path = directory.file("full.log")
        // A one-line queue: the caller outruns the writer's wake-up and
        // write, so lines are dropped long before the attempt cap.
        let writer = try LogWriter(path: path, maxQueuedLines: 1)
        defer { writer.close() }
        var accepted = 0
        var attempts = 0
        while writer.statistics.linesDropped < 10 && attempts < 1_000_000 {
            if writer.enqueue(line("{\"n\":\(attempts)}")) { accepted += 1 }
            attempts += 1
        }
        XCTAssertGreaterThanOrEqual(writer.statistics.linesDropped, 10)
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let objects = try LoggingTestSupport.objects(ofFile: path)
        let reported = objects.filter { $0["event"] as? String == "log_lines_dropped" }
            .compactMap { ($0["count"] as? NSNumber)?.intValue }
        XCTAssertFalse(reported.isEmpty)
        let dropped = attempts - accepted
        XCTAssertEqual(reported.reduce(0, +), dropped, "every drop is reported exactly once")
        XCTAssertEqual(UInt64(dropped), writer.statistics.linesDropped)
        XCTAssertEqual(objects.filter { $0["n"] != nil }.count, accepted)
    }

    func testReopenAfterRenameStartsANewFile() throws {
        let path = directory.file("rotate.log")
        let rotated = directory.file("rotate.log.1")
        let writer = try LogWriter(path: path)
        defer { writer.close() }
        writer.enqueue(line("before-1"))
        writer.enqueue(line("before-2"))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        XCTAssertEqual(rename(path, rotated), 0)
        writer.enqueue(line("late-before-reopen"))
        writer.reopen()
        writer.enqueue(line("after-1"))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        writer.enqueue(line("after-2"))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let old = try LoggingTestSupport.lines(ofFile: rotated)
        let new = try LoggingTestSupport.lines(ofFile: path)
        XCTAssertEqual(Array(old.prefix(2)), ["before-1", "before-2"])
        XCTAssertEqual(Array(new.suffix(2)), ["after-1", "after-2"])
        XCTAssertFalse(old.contains("after-1") || old.contains("after-2"))
        XCTAssertFalse(new.contains("before-1") || new.contains("before-2"))
        // A line queued just before the reopen may land in either file, once.
        XCTAssertEqual((old + new).filter { $0 == "late-before-reopen" }.count, 1)
        XCTAssertEqual(writer.statistics.reopenFailures, 0)
    }

    func testFailedReopenKeepsTheOldFileAndSaysSo() throws {
        let subdirectory = directory.file("sub")
        try FileManager.default.createDirectory(
            atPath: subdirectory, withIntermediateDirectories: false)
        let path = subdirectory + "/gone.log"
        let kept = directory.file("kept.log")
        let writer = try LogWriter(path: path)
        defer { writer.close() }
        XCTAssertEqual(rename(path, kept), 0)
        XCTAssertEqual(rmdir(subdirectory), 0)
        writer.reopen()
        writer.enqueue(line("{\"still\":\"here\"}"))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let objects = try LoggingTestSupport.objects(ofFile: kept)
        let warning = try XCTUnwrap(objects.first { $0["event"] as? String == "log_reopen_failed" })
        XCTAssertEqual(warning["errno"] as? String, "ENOENT")
        XCTAssertEqual(warning["path"] as? String, path)
        XCTAssertEqual(objects.last?["still"] as? String, "here")
        XCTAssertEqual(writer.statistics.reopenFailures, 1)
    }

    func testUnopenablePathIsCannotCreate() {
        let path = directory.file("missing-directory/trustctl.log")
        XCTAssertThrowsError(try LogWriter(path: path)) { error in
            guard let error = error as? TrustError else { return XCTFail("not a TrustError: \(error)") }
            XCTAssertEqual(error.kind, .cannotCreate)
            XCTAssertEqual(error.errno, Errno(rawValue: ENOENT))
            XCTAssertEqual(error.exitStatus, .cannotCreate)
            XCTAssertEqual(error.exitStatus.rawValue, 73)
            XCTAssertTrue(error.message.contains(path), error.message)
            XCTAssertTrue(error.message.contains("ENOENT"), error.message)
        }
    }

    func testCloseWritesWhatIsQueuedThenRefusesLines() throws {
        let path = directory.file("close.log")
        let writer = try LogWriter(path: path)
        for index in 0..<100 {
            writer.enqueue(line("\(index)"))
        }
        writer.close()
        XCTAssertEqual(try LoggingTestSupport.lines(ofFile: path).count, 100)
        XCTAssertFalse(writer.enqueue(line("after close")))
        writer.close()
        XCTAssertTrue(writer.flush(timeout: .milliseconds(10)), "nothing is pending after close")
        XCTAssertEqual(try LoggingTestSupport.lines(ofFile: path).count, 100)
    }

    func testWritersAreReleasedWithoutClose() throws {
        let path = directory.file("released.log")
        weak var released: LogWriter?
        do {
            let writer = try LogWriter(path: path)
            writer.enqueue(line("last words"))
            released = writer
        }
        XCTAssertNil(released, "the writer thread must not keep the writer alive")
        XCTAssertEqual(try LoggingTestSupport.lines(ofFile: path), ["last words"])
    }

    func testConcurrentCallersLoseNoLinesWhenTheQueueIsLargeEnough() throws {
        let path = directory.file("concurrent.log")
        let writer = try LogWriter(path: path, maxQueuedLines: 100_000, maxQueuedBytes: 16 << 20)
        defer { writer.close() }
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for index in 0..<2500 {
                writer.enqueue(Array("{\"t\":\(thread),\"n\":\(index)}".utf8))
            }
        }
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let objects = try LoggingTestSupport.objects(ofFile: path)
        XCTAssertEqual(objects.count, 10_000)
        for thread in 0..<4 {
            let sequence = objects.filter { ($0["t"] as? NSNumber)?.intValue == thread }
                .compactMap { ($0["n"] as? NSNumber)?.intValue }
            XCTAssertEqual(sequence, Array(0..<2500), "each caller's lines stay in order")
        }
    }
}

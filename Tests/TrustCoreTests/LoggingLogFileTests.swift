import Foundation
import Logging
import XCTest

@testable import TrustCore

/// The log is a regular file or nothing: a FIFO, device or directory at its
/// path is refused at start, never waited on, and a SIGHUP reopen onto one
/// keeps the old file. (A socket: the black-box `LogFileTypeTests`.)
final class LoggingLogFileTests: LoggingDirectoryTestCase {
    private func assertRefused(
        _ path: String, as phrase: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try LogWriter(path: path), file: file, line: line) { error in
            guard let error = error as? TrustError else {
                return XCTFail("not a TrustError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, .cannotCreate, file: file, line: line)
            XCTAssertEqual(error.exitStatus.rawValue, 73, file: file, line: line)
            XCTAssertEqual(
                error.message, "cannot open log file \(path): it is \(phrase), not a regular file", file: file,
                line: line)
        }
    }

    func testAFIFOWithoutAReaderIsRefusedAtOnce() throws {
        let path = directory.file("fifo.log")
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        // A blocking open would wait here for a reader forever.
        assertRefused(path, as: "a FIFO")
    }

    func testAFIFOWithAReaderIsRefusedToo() throws {
        let path = directory.file("read-fifo.log")
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        assertRefused(path, as: "a FIFO")
    }

    func testDevicesAreRefusedWhetherNamedOrLinkedTo() throws {
        assertRefused("/dev/null", as: "a character device")
        assertRefused("/dev/full", as: "a character device")
        let link = directory.file("null.log")
        XCTAssertEqual(symlink("/dev/null", link), 0)
        assertRefused(link, as: "a character device")
    }

    func testADirectoryIsRefused() throws {
        let path = directory.file("dir.log")
        XCTAssertEqual(mkdir(path, 0o700), 0)
        assertRefused(path, as: "a directory")
    }

    func testASymlinkToARegularFileIsFollowed() throws {
        let target = directory.file("real.log")
        let link = directory.file("link.log")
        XCTAssertEqual(symlink(target, link), 0)
        // Dangling: opening creates the target, as `>>` does.
        let writer = try LogWriter(path: link)
        writer.enqueue(Array("{\"via\":\"link\"}".utf8))
        writer.close()
        XCTAssertEqual(try LoggingTestSupport.lines(ofFile: target), ["{\"via\":\"link\"}"])
        let again = try LogWriter(path: link)
        again.enqueue(Array("{\"n\":2}".utf8))
        again.close()
        XCTAssertEqual(try LoggingTestSupport.lines(ofFile: target).count, 2)
    }

    func testReopenOntoAFIFOKeepsTheOldFileAndSaysWhy() throws {
        let path = directory.file("rotated.log")
        let kept = directory.file("rotated.log.1")
        let writer = try LogWriter(path: path)
        defer { writer.close() }
        writer.enqueue(Array("{\"n\":1}".utf8))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        XCTAssertEqual(rename(path, kept), 0)
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        writer.reopen()
        writer.enqueue(Array("{\"n\":2}".utf8))
        // A writer stuck opening the FIFO would never finish this batch.
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))

        let objects = try LoggingTestSupport.objects(ofFile: kept)
        XCTAssertEqual(objects.count, 3)
        let warning = try XCTUnwrap(objects.first { $0["event"] as? String == "log_reopen_failed" })
        XCTAssertEqual(warning["file_type"] as? String, "fifo")
        XCTAssertEqual(warning["path"] as? String, path)
        XCTAssertNil(warning["errno"])
        XCTAssertEqual((objects.last?["n"] as? NSNumber)?.intValue, 2)
        XCTAssertEqual(writer.statistics.reopenFailures, 1)
    }

    func testReopenOntoADeviceKeepsTheOldFile() throws {
        let path = directory.file("to-null.log")
        let kept = directory.file("to-null.log.1")
        let writer = try LogWriter(path: path)
        defer { writer.close() }
        XCTAssertEqual(rename(path, kept), 0)
        XCTAssertEqual(symlink("/dev/null", path), 0)
        writer.reopen()
        writer.enqueue(Array("{\"kept\":true}".utf8))
        XCTAssertTrue(writer.flush(timeout: .seconds(10)))
        let objects = try LoggingTestSupport.objects(ofFile: kept)
        XCTAssertEqual(objects.map { $0["event"] as? String }, ["log_reopen_failed", nil])
        XCTAssertEqual(objects.first?["file_type"] as? String, "character_device")
        XCTAssertEqual(objects.last?["kept"] as? Bool, true)
    }
}

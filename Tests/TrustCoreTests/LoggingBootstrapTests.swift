import Foundation
import Logging
import XCTest

@testable import TrustCore

/// The one test that installs the process-wide factory (swift-log allows one
/// `LoggingSystem.bootstrap` per process; `TrustLogging.bootstrap` swaps the
/// destination on later calls instead).
final class LoggingBootstrapTests: XCTestCase {
    func testBootstrapRoutesLoggersToTheFileInTrustHome() throws {
        let directory = try LoggingTemporaryDirectory()
        let home = TrustHome(path: directory.file("home"))
        try home.createLogsDirectory()
        let mode = try XCTUnwrap(
            FileManager.default.attributesOfItem(atPath: home.logsDirectoryPath)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o700, "the log names peers: owner only, like TRUST_HOME")
        let firstPath = home.logFilePath
        let first = try TrustLogging.bootstrap(logFile: firstPath, level: .info)
        defer { first.close() }
        let logger = Logger(label: "trustctl.test")
        logger.debug("hidden")
        logger.info("server_started", metadata: ["port": .stringConvertible(7)])
        XCTAssertTrue(first.flush(timeout: .seconds(10)))

        let objects = try LoggingTestSupport.objects(ofFile: firstPath)
        XCTAssertEqual(objects.count, 1, "debug is below the bootstrap level")
        XCTAssertEqual(objects.first?["event"] as? String, "server_started")
        XCTAssertEqual((objects.first?["port"] as? NSNumber)?.intValue, 7)

        let secondPath = directory.file("second.log")
        let second = try TrustLogging.bootstrap(logFile: secondPath, level: .debug)
        defer { second.close() }
        Logger(label: "trustctl.test").debug("frame_echoed")
        logger.info("server_stopping")
        XCTAssertTrue(second.flush(timeout: .seconds(10)))
        XCTAssertTrue(first.flush(timeout: .seconds(10)))
        XCTAssertEqual(
            try LoggingTestSupport.objects(ofFile: secondPath).map { $0["event"] as? String },
            ["frame_echoed"])
        XCTAssertEqual(
            try LoggingTestSupport.objects(ofFile: firstPath).map { $0["event"] as? String },
            ["server_started", "server_stopping"], "existing loggers keep their writer")
    }

    func testBootstrapNeedsTheDirectoryAndCreatesNone() throws {
        // One way to make the logs directory: TrustHome.createLogsDirectory
        // (mode 0700). bootstrap only opens the file.
        let directory = try LoggingTemporaryDirectory()
        let path = directory.file("logs/trustctl.log")
        XCTAssertThrowsError(try TrustLogging.bootstrap(logFile: path, level: .info)) { error in
            guard let error = error as? TrustError else { return XCTFail("not a TrustError: \(error)") }
            XCTAssertEqual(error.kind, .cannotCreate)
            XCTAssertEqual(error.exitStatus.rawValue, 73)
            XCTAssertEqual(error.errno, Errno(rawValue: ENOENT))
            XCTAssertTrue(error.message.contains(path), error.message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.file("logs")))
    }

    func testBootstrapRefusesAFIFOWithoutWaitingForAReader() throws {
        let directory = try LoggingTemporaryDirectory()
        let path = directory.file("trustctl.log")
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        XCTAssertThrowsError(try TrustLogging.bootstrap(logFile: path, level: .info)) { error in
            guard let error = error as? TrustError else { return XCTFail("not a TrustError: \(error)") }
            XCTAssertEqual(error.exitStatus.rawValue, 73)
            XCTAssertEqual(error.message, "cannot open log file \(path): it is a FIFO, not a regular file")
        }
    }
}

import Foundation
import Logging
import XCTest

@testable import TrustCore

/// The one test that installs the process-wide factory (swift-log allows one
/// `LoggingSystem.bootstrap` per process; `TrustLogging.bootstrap` swaps the
/// destination on later calls instead).
final class LoggingBootstrapTests: XCTestCase {
    func testBootstrapCreatesDirectoriesAndRoutesLoggers() throws {
        let directory = try LoggingTemporaryDirectory()
        let firstPath = directory.file("home/logs/trustctl.log")
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

    func testBootstrapFailsWithCannotCreateWhenTheDirectoryCannotBeMade() throws {
        let directory = try LoggingTemporaryDirectory()
        let blocker = directory.file("not-a-directory")
        try "x".write(toFile: blocker, atomically: false, encoding: .utf8)
        let path = blocker + "/logs/trustctl.log"
        XCTAssertThrowsError(try TrustLogging.bootstrap(logFile: path, level: .info)) { error in
            guard let error = error as? TrustError else { return XCTFail("not a TrustError: \(error)") }
            XCTAssertEqual(error.kind, .cannotCreate)
            XCTAssertEqual(error.exitStatus.rawValue, 73)
            XCTAssertEqual(error.errno, Errno(rawValue: ENOTDIR))
            XCTAssertTrue(error.message.contains(blocker), error.message)
        }
    }

    func testParentDirectoryIsCreatedLikeMkdirP() throws {
        let directory = try LoggingTemporaryDirectory()
        let path = directory.file("a/b/c/trustctl.log")
        try TrustLogging.createParentDirectory(of: path)
        try TrustLogging.createParentDirectory(of: path)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: directory.file("a/b/c"), isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
        try TrustLogging.createParentDirectory(of: "relative-file-without-directory.log")
    }
}

import Foundation
import XCTest

/// `echo-load-test` on a real terminal (a tmux pane): the progress display
/// of SPEC §8 and Ctrl-C.
final class LoadTestTerminalTests: XCTestCase {
    private static let columns = 40

    private func startPane(_ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> TmuxPane {
        let env = try makeTrustctlEnvironment()
        var environment = ["PATH": "/usr/bin:/bin", "TRUST_HOME": env.trustHome.path]
        environment.merge(extraEnvironment) { _, new in new }
        return try TmuxPane(
            directory: env.directory, columns: LoadTestTerminalTests.columns, rows: 40,
            command: [try TrustctlProcess.binaryURL().path, "echo-load-test"] + arguments, environment: environment)
    }

    /// The frames of the progress display in the raw terminal stream: each
    /// is drawn as `\r TEXT ESC[K`.
    private func frames(in raw: String) -> [String] {
        raw.components(separatedBy: "\r").compactMap { piece -> String? in
            guard let end = piece.range(of: "\u{1B}[K") else { return nil }
            let text = String(piece[..<end.lowerBound])
            return text.isEmpty ? nil : text
        }
    }

    private func assertFramesFit(_ frames: [String], width: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(frames.count, 3, "\(frames)", file: file, line: line)
        for frame in frames {
            XCTAssertLessThan(frame.count, width, "a frame that fills the line wraps: \(frame)", file: file, line: line)
            XCTAssertFalse(frame.contains("\n"), frame, file: file, line: line)
        }
        for (previous, next) in zip(frames, frames.dropFirst()) {
            XCTAssertNotEqual(previous, next, "a frame drawn twice", file: file, line: line)
        }
    }

    /// Rows left of the progress display once the run is over.
    private func assertNoProgressLeft(_ screen: [String], file: StaticString = #filePath, line: UInt = #line) {
        for row in screen {
            XCTAssertFalse(
                row.contains(" left") || row.contains("/s ok") || row.contains("^C"), "stale: \(row)",
                file: file, line: line)
        }
    }

    func testProgressShowsEveryFigureWithinFortyColumnsAndRedrawsInPlace() throws {
        let server = try startEchoServer(["--workers", "1"])
        // Count mode, paced so it lasts about 1.5 s whatever the machine.
        let pane = try startPane([
            "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "4", "--concurrency", "4",
            "--messages", "600", "--rate", "1600",
        ])
        let progress = try XCTUnwrap(
            try pane.waitForRow { $0.contains(" left") }, "no progress row: \(pane.raw)")
        XCTAssertLessThan(progress.count, LoadTestTerminalTests.columns, progress)
        for part in ["ok ", "fail ", "/s", " left"] { XCTAssertTrue(progress.contains(part), progress) }
        XCTAssertEqual(try pane.screen().filter { $0.contains(" left") }.count, 1, "one progress row, in place")

        XCTAssertEqual(try pane.waitForExit(), 0, pane.raw)
        assertFramesFit(frames(in: pane.raw), width: LoadTestTerminalTests.columns)
        let screen = try pane.screen()
        assertNoProgressLeft(screen)
        XCTAssertTrue(screen.contains("2400/2400 ok, 0 failed"), "\(screen)")
        // The count mode frames count down what is left.
        let left = frames(in: pane.raw).compactMap { frame in
            frame.split(separator: " ").reversed().dropFirst().first.flatMap { Int($0) }
        }
        XCTAssertEqual(left, left.sorted(by: >), "\(frames(in: pane.raw))")
    }

    func testColumnsOverridesTheTerminalWidthInDurationMode() throws {
        let server = try startEchoServer(["--workers", "1"])
        let pane = try startPane(
            [
                "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "2", "--concurrency", "2",
                "--messages", "1000000000", "--duration", "1.2", "--rate", "2000",
            ], extraEnvironment: ["COLUMNS": "30"])
        XCTAssertEqual(try pane.waitForExit(), 0, pane.raw)
        let frames = frames(in: pane.raw)
        assertFramesFit(frames, width: 30)
        XCTAssertTrue(frames.allSatisfy { $0.hasSuffix("s left") }, "\(frames)")
        assertNoProgressLeft(try pane.screen())
    }

    func testCtrlCLeavesACleanLineThePartialSummaryAndExit130() throws {
        let server = try startEchoServer(["--workers", "1"])
        let pane = try startPane([
            "--host", "127.0.0.1", "--port", "\(server.port)", "--clients", "3", "--concurrency", "3",
            "--messages", "1000000000", "--rate", "3000",
        ])
        XCTAssertNotNil(try pane.waitForRow { $0.contains(" left") }, "no progress row: \(pane.raw)")
        try pane.sendKeys("C-c")
        XCTAssertEqual(try pane.waitForExit(timeout: 20), 130, pane.raw)
        let screen = try pane.screen()
        assertNoProgressLeft(screen)
        let first = try XCTUnwrap(
            screen.firstIndex { $0.range(of: #"^[0-9]+/[0-9]+ ok, 0 failed$"#, options: .regularExpression) != nil },
            "\(screen)")
        XCTAssertTrue((screen.dropFirst(first + 1).first ?? "").hasPrefix("interrupted by SIGINT after"), "\(screen)")
        XCTAssertTrue(screen.contains { $0.hasPrefix("latency us: p50") }, "\(screen)")
        XCTAssertTrue(screen.contains { $0.hasPrefix("echo-load-test: interrupted by SIGINT") }, "\(screen)")
        // The line the summary starts on was cleared of the progress display and the echoed ^C.
        XCTAssertTrue(pane.raw.contains("\r\u{1B}[K"), pane.raw)
    }
}

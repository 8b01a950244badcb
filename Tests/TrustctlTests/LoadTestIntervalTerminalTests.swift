import Foundation
import XCTest

/// `--interval` on a real terminal (a tmux pane): each interval line is
/// printed on a line of its own, the progress display cleared before it and
/// redrawn after, and nothing of the display is left once the run is over.
final class LoadTestIntervalTerminalTests: XCTestCase {
    func testIntervalLinesAndTheProgressDisplayDoNotMix() throws {
        let server = try startEchoServer(["--workers", "1"])
        let env = try makeTrustctlEnvironment()
        let pane = try TmuxPane(
            directory: env.directory, columns: 100, rows: 40,
            command: [
                try TrustctlProcess.binaryURL().path, "echo-load-test", "--host", "127.0.0.1", "--port",
                "\(server.port)", "--clients", "2", "--concurrency", "2", "--messages", "1000000000", "--duration",
                "1.6", "--rate", "2000", "--interval", "0.4",
            ], environment: ["PATH": "/usr/bin:/bin", "TRUST_HOME": env.trustHome.path])
        XCTAssertNotNil(try pane.waitForRow { $0.contains(" left") }, "no progress row: \(pane.raw)")
        XCTAssertEqual(try pane.waitForExit(), 0, pane.raw)
        let screen = try pane.screen()
        let intervals = screen.filter { $0.hasPrefix("[") }
        XCTAssertGreaterThanOrEqual(intervals.count, 4, "\(screen)")
        for line in intervals {
            XCTAssertNotNil(
                line.range(
                    of:
                        #"^\[[0-9.]+-[0-9.]+ s\] [0-9.]+ rt/s, [0-9]+ ok, [0-9]+ failed, (p50 [0-9]+ us, p99 [0-9]+ us|no latency)$"#,
                    options: .regularExpression), "an interval line mixed with the display: \(line)")
        }
        for row in screen {
            XCTAssertFalse(row.contains(" left") || row.contains("/s ok"), "stale progress: \(row)")
        }
        let summary = try XCTUnwrap(screen.firstIndex { $0.hasSuffix(" ok, 0 failed") }, "\(screen)")
        XCTAssertGreaterThan(summary, screen.lastIndex { $0.hasPrefix("[") } ?? .max, "the summary comes last")
    }
}

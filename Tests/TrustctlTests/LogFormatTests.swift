import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// SPEC §10: trustctl.log is JSON lines with the required keys.
final class LogFormatTests: XCTestCase {
    static let levels: Set<String> = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    static let closeReasons: Set<String> = [
        "peer_closed", "idle_timeout", "send_timeout", "frame_too_large", "truncated_frame", "reset", "shutdown",
        "error",
    ]
    static let connectionEvents: Set<String> = ["connection_accepted", "connection_closed", "connection_refused"]

    /// A server that has seen a little of everything, then stopped (which flushes its log).
    private func exercisedServerLog() throws -> (log: [String], pid: Int32) {
        let server = try startEchoServer(["--max-clients", "3", "--max-frame", "100", "--log-level", "debug"])
        let raw = try server.connect()
        try raw.echoRaw(Array("raw \"quoted\" \\ text\n".utf8))
        let framed = try server.connect()
        try framed.echoFrame(Array("framed".utf8))
        try framed.echoFrame([])
        let oversize = try server.connect()
        try oversize.send(TestFrame.header(101))
        _ = oversize.receiveOnce()
        XCTAssertNotNil(server.log.waitForClose(ofClientPort: oversize.localPort))
        let third = try server.connect()
        try third.send([0, 0, 0, 9, 1])  // will end truncated
        XCTAssertNotNil(
            server.log.waitForEntry { $0.event == "connection_accepted" && $0.isPeer(port: third.localPort) })
        let refused = try server.connect()
        _ = refused.receiveOnce()
        XCTAssertNotNil(server.log.waitForEntry(event: "connection_refused"))
        third.shutdownWrite()  // ends mid-frame with a FIN
        _ = try third.receiveToEnd()
        third.close()
        raw.shutdownWrite()
        _ = try raw.receiveToEnd()
        XCTAssertEqual(try server.stop(), 0)
        return (server.log.lines(), server.pid)
    }

    func testEveryLogLineIsJSONWithRequiredKeys() throws {
        let (lines, pid) = try exercisedServerLog()
        XCTAssertGreaterThan(lines.count, 8)
        let timestamp = try NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)
        var events: Set<String> = []
        for line in lines {
            guard let fields = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                XCTFail("not a JSON object: \(line)")
                continue
            }
            let entry = LogEntry(fields: fields, text: line)
            let ts = entry.string("ts") ?? ""
            XCTAssertEqual(
                timestamp.numberOfMatches(in: ts, range: NSRange(ts.startIndex..., in: ts)), 1, "ts: \(line)")
            XCTAssertTrue(Self.levels.contains(entry.string("level") ?? ""), "level: \(line)")
            XCTAssertEqual(entry.integer("pid"), Int(pid), "pid: \(line)")
            let event = try XCTUnwrap(entry.event, "event: \(line)")
            events.insert(event)
            if Self.connectionEvents.contains(event) || event == "frame_echoed" {
                XCTAssertFalse((entry.requestID ?? "").isEmpty, "request_id: \(line)")
            }
            if Self.connectionEvents.contains(event) {
                XCTAssertTrue(entry.peer?.hasPrefix("127.0.0.1:") ?? false, "peer: \(line)")
            }
            if event == "connection_closed" {
                XCTAssertTrue(Self.closeReasons.contains(entry.reason ?? ""), "reason: \(line)")
                for key in ["frames", "bytes_in", "bytes_out", "duration_ms"] {
                    XCTAssertGreaterThanOrEqual(entry.integer(key) ?? -1, 0, "\(key) as a JSON number: \(line)")
                }
            }
        }
        for expected in [
            "server_started", "connection_accepted", "frame_echoed", "connection_closed", "connection_refused",
            "server_stopping", "server_stopped",
        ] {
            XCTAssertTrue(events.contains(expected), "no \(expected) line in \(lines)")
        }
        let reasons = Set(
            lines.compactMap { line -> String? in
                let entry = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    .map { LogEntry(fields: $0, text: line) }
                return entry?.event == "connection_closed" ? entry?.reason : nil
            })
        XCTAssertEqual(reasons, ["peer_closed", "frame_too_large", "truncated_frame", "shutdown"])
    }

    func testRequestIDsAreUniquePerConnection() throws {
        let (lines, _) = try exercisedServerLog()
        let entries = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                .map { LogEntry(fields: $0, text: line) }
        }
        let accepted = entries.filter { $0.event == "connection_accepted" }.compactMap(\.requestID)
        let closed = entries.filter { $0.event == "connection_closed" }.compactMap(\.requestID)
        let refused = entries.filter { $0.event == "connection_refused" }.compactMap(\.requestID)
        XCTAssertEqual(accepted.count, 4)
        XCTAssertEqual(Set(accepted).count, accepted.count, "an id given to two connections: \(accepted)")
        XCTAssertEqual(closed.sorted(), accepted.sorted(), "each accepted connection closes once, under its id")
        XCTAssertEqual(refused.count, 1)
        XCTAssertTrue(Set(refused).isDisjoint(with: accepted), "a refused connection reuses an id")
        // Every line about a connection names one that was accepted with the same peer.
        var peers: [String: String] = [:]
        for entry in entries where entry.event == "connection_accepted" { peers[entry.requestID!] = entry.peer }
        for entry in entries where entry.event == "connection_closed" {
            XCTAssertEqual(peers[entry.requestID ?? ""], entry.peer, "\(entry)")
        }
        for entry in entries where entry.event == "frame_echoed" {
            XCTAssertNotNil(peers[entry.requestID ?? ""], "frame_echoed for an unknown connection: \(entry)")
        }
    }
}

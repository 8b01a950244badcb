import CNetShim
import Foundation
import Synchronization
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// The shipped deploy/haproxy/trustctl.cfg run by a real HAProxy (Debian's haproxy package)
/// in front of a small backend made of this project's pure pieces: HAProxy's `send-proxy-v2`
/// header goes through `ProxyHeaderParser`, its `option httpchk GET /readyz` through
/// `HTTPRequestParser` and `OpsResponder`. The three servers of the config all point at the
/// same backend here.
final class OpsHAProxyTests: XCTestCase {
    private static let haproxy = "/usr/sbin/haproxy"

    /// What the backend thread saw; shared with the test through a lock.
    final class BackendLog: Sendable {
        struct State {
            var proxyHeaders: [ProxyHeader] = []
            var proxyErrors: [ProxyHeaderError] = []
            var checks: [HTTPRequestHead] = []
            var checkRejections: [HTTPStatus] = []
            var isReady = true
            var stop = false
        }
        let state = Mutex(State())
    }

    func testHAProxySendsParsableProxyV2HeadersAndHealthChecksReadyz() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.haproxy) else {
            return XCTFail("\(Self.haproxy) is missing: install Debian's haproxy package (.ci/run does)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = root.appendingPathComponent("deploy/haproxy/trustctl.cfg").path
        let echoListener = try InheritedListenersTests.listeningSocket(family: AF_INET, host: "127.0.0.1")
        let metricsListener = try InheritedListenersTests.listeningSocket(family: AF_INET, host: "127.0.0.1")
        let frontendProbe = try InheritedListenersTests.listeningSocket(family: AF_INET, host: "127.0.0.1")
        let frontendPort = UInt16(cnet_local_port(frontendProbe))
        close(frontendProbe)
        let log = BackendLog()
        let backend = Thread { Self.serve(echo: echoListener, metrics: metricsListener, log: log) }
        backend.start()
        defer {
            log.state.withLock { $0.stop = true }
            while !backend.isFinished { usleep(10_000) }
            close(echoListener)
            close(metricsListener)
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "trustctl-haproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let echoPort = String(cnet_local_port(echoListener))
        let metricsPort = String(cnet_local_port(metricsListener))
        var environment = ProcessInfo.processInfo.environment
        environment["TRUSTCTL_FLEET_DIR"] = directory.path
        environment["TRUSTCTL_FLEET_PORT"] = String(frontendPort)
        for index in 1...3 {
            environment["TRUSTCTL_ECHO\(index)_PORT"] = echoPort
            environment["TRUSTCTL_METRICS\(index)_PORT"] = metricsPort
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.haproxy)
        process.arguments = ["-db", "-f", config]
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let statsSocket = directory.appendingPathComponent("haproxy.sock").path

        // Every server is checked, answered 200, and shown UP.
        try waitUntil("all three servers UP") {
            let states = Self.serverStatuses(statsSocket)
            return states.count == 3 && states.values.allSatisfy { $0 == "UP" }
        }
        let checks = log.state.withLock { $0.checks }
        XCTAssertFalse(checks.isEmpty)
        XCTAssertTrue(
            checks.allSatisfy { $0.method == .get && $0.route == .readyz && $0.version == .http10 }, "\(checks)")
        XCTAssertEqual(log.state.withLock { $0.checkRejections }, [])

        // A client through the frontend: the backend sees a PROXY v2 header naming it.
        for round in 0..<3 {
            let client = cnet_tcp_connect_host("127.0.0.1", frontendPort, 5000, 0)
            XCTAssertGreaterThanOrEqual(client, 0)
            guard client >= 0 else { return }
            defer { close(client) }
            XCTAssertEqual(cnet_set_recv_timeout(client, 5000), 0)
            let message = Array("hello \(round)".utf8)
            XCTAssertEqual(cnet_send_all(client, message, message.count, nil), message.count)
            var echoed = [UInt8](repeating: 0, count: message.count)
            XCTAssertEqual(cnet_recv_all(client, &echoed, echoed.count, nil), message.count)
            XCTAssertEqual(echoed, message, "the payload after the header is echoed, the header is not")
            let clientPort = Self.localPort(client)
            let header = log.state.withLock { $0.proxyHeaders.last }
            XCTAssertEqual(header?.version, .v2)
            XCTAssertEqual(header?.command, .proxy)
            XCTAssertEqual(header?.source, IPEndpoint(address: .ipv4Loopback, port: clientPort))
            XCTAssertEqual(header?.destination, IPEndpoint(address: .ipv4Loopback, port: frontendPort))
        }
        XCTAssertEqual(log.state.withLock { $0.proxyErrors }, [])

        // A draining server answers /readyz 503 and HAProxy takes it out.
        log.state.withLock { $0.isReady = false }
        try waitUntil("all three servers DOWN after /readyz turns 503") {
            let states = Self.serverStatuses(statsSocket)
            return states.count == 3 && states.values.allSatisfy { $0.hasPrefix("DOWN") }
        }
    }

    private func waitUntil(_ what: String, within seconds: Double = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw ToolRunner.Failure(description: "timed out waiting for \(what)") }
            usleep(50_000)
        }
    }

    // MARK: the backend

    /// Serves both listeners until told to stop: the echo port strips and records a PROXY
    /// header and echoes the rest; the metrics port answers health checks.
    private static func serve(echo: Int32, metrics: Int32, log: BackendLog) {
        var fds = [
            pollfd(fd: echo, events: Int16(POLLIN), revents: 0), pollfd(fd: metrics, events: Int16(POLLIN), revents: 0),
        ]
        while !log.state.withLock({ $0.stop }) {
            guard poll(&fds, 2, 50) > 0 else { continue }
            if fds[0].revents != 0, let connection = accepted(echo) {
                serveEcho(connection, log: log)
            }
            if fds[1].revents != 0, let connection = accepted(metrics) {
                serveCheck(connection, log: log)
            }
        }
    }

    private static func accepted(_ listener: Int32) -> Int32? {
        let connection = cnet_accept(listener, nil, nil)
        guard connection >= 0 else { return nil }
        _ = cnet_set_nonblocking(connection, 0)
        _ = cnet_set_recv_timeout(connection, 3000)
        return connection
    }

    private static func serveEcho(_ connection: Int32, log: BackendLog) {
        defer { close(connection) }
        var parser = ProxyHeaderParser(mode: .v2)!
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pending: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { cnet_recv(connection, $0.baseAddress!, $0.count) }
            guard count > 0 else { return }
            let chunk = Array(buffer[..<count])
            switch parser.parse(chunk.span) {
            case .needMore:
                continue
            case .invalid(let error):
                log.state.withLock { $0.proxyErrors.append(error) }
                return
            case .done(let header, let consumed):
                log.state.withLock { $0.proxyHeaders.append(header) }
                pending = Array(chunk[consumed...])
            }
            break
        }
        // The client sends one short message per connection; echo until it closes.
        while true {
            if !pending.isEmpty {
                guard cnet_send_all(connection, pending, pending.count, nil) == pending.count else { return }
            }
            let count = buffer.withUnsafeMutableBytes { cnet_recv(connection, $0.baseAddress!, $0.count) }
            guard count > 0 else { return }
            pending = Array(buffer[..<count])
        }
    }

    private static func serveCheck(_ connection: Int32, log: BackendLog) {
        defer { close(connection) }
        var parser = HTTPRequestParser()
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let count = buffer.withUnsafeMutableBytes { cnet_recv(connection, $0.baseAddress!, $0.count) }
            guard count > 0 else { return }
            let response: [UInt8]
            switch parser.parse(Array(buffer[..<count]).span) {
            case .needMore:
                continue
            case .reject(let status):
                log.state.withLock { $0.checkRejections.append(status) }
                response = OpsResponder.rejection(status)
            case .done(let head, _):
                let ready = log.state.withLock { state -> Bool in
                    state.checks.append(head)
                    return state.isReady
                }
                response = OpsResponder.response(to: head, isReady: ready) { [] }.bytes
            }
            _ = cnet_send_all(connection, response, response.count, nil)
            return
        }
    }

    // MARK: HAProxy's stats socket

    /// Server name → status (`UP`, `DOWN`, ...) from `show stat`.
    private static func serverStatuses(_ socketPath: String) -> [String: String] {
        guard let csv = statsCommand("show stat", socketPath) else { return [:] }
        var statuses: [String: String] = [:]
        for line in csv.split(separator: "\n") where line.hasPrefix("trustctl,") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count > 17, fields[1] != "BACKEND" else { continue }
            statuses[String(fields[1])] = String(fields[17])
        }
        return statuses
    }

    private static func statsCommand(_ command: String, _ socketPath: String) -> String? {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes + [0]) }
        let connected = withUnsafeBytes(of: &address) { raw in
            connect(
                descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                socklen_t(MemoryLayout<sockaddr_un>.size))
        }
        guard connected == 0 else { return nil }
        let request = Array((command + "\n").utf8)
        guard cnet_send_all(descriptor, request, request.count, nil) == request.count else { return nil }
        _ = cnet_set_recv_timeout(descriptor, 2000)
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { cnet_recv(descriptor, $0.baseAddress!, $0.count) }
            guard count > 0 else { break }
            reply += buffer[..<count]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    private static func localPort(_ descriptor: Int32) -> UInt16 { UInt16(cnet_local_port(descriptor)) }
}

import CNetShim
import Foundation
import Logging
import Synchronization
import TrustCore
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The real echo server, run in the test process for the client and load
/// test tests: auto mode (framed and raw clients share it), max frame
/// 65536, one worker, listening on `::` (dual-stack, so 127.0.0.1, ::1 and
/// localhost all reach it) on a port the kernel picks.
///
/// Started once per test process and left running: `StreamService.run` stops
/// only on a signal, and the process's exit ends it. The start waits for
/// the ready callback (no sleeping), bounded.
enum EchoServerFixture {
    private static let started = Mutex<UInt16?>(nil)

    static func port(file: StaticString = #filePath, line: UInt = #line) throws -> UInt16 {
        try started.withLock { port in
            if let port { return port }
            let ready = DispatchSemaphore(value: 0)
            let bound = Atomic<UInt16>(0)
            let failure = Mutex<String?>(nil)
            let thread = Thread {
                do {
                    // Activated by run() on this thread: only this thread
                    // (and the workers, as always) blocks the signal.
                    let signals = SignalEvents([SIGTERM])
                    let options = ServiceOptions(
                        host: "::", port: 0, idleTimeout: 30, maxClients: 10000, workers: 1, drainTimeout: 1)
                    let logger = Logger(label: "test-echo-server", factory: { _ in SwiftLogNoOpLogHandler() })
                    let server = StreamService(
                        handler: AutoEcho(maxFrame: 65536), options: options, logger: logger, signals: signals,
                        onHangup: {})
                    _ = try server.run { port in
                        bound.store(port, ordering: .releasing)
                        ready.signal()
                    }
                } catch {
                    failure.withLock { $0 = "\(error)" }
                    ready.signal()
                }
            }
            thread.name = "test-echo-server"
            thread.start()
            guard ready.wait(timeout: .now() + 20) == .success else {
                throw FixtureError("the in-process echo server did not start within 20 s")
            }
            if let message = failure.withLock({ $0 }) { throw FixtureError("echo server failed: \(message)") }
            let value = bound.load(ordering: .acquiring)
            port = value
            return value
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A TCP port on 127.0.0.1 with nothing listening: bound by us, then
/// closed, so connecting to it is refused.
func closedLoopbackPort() throws -> UInt16 {
    var port: UInt16 = 0
    let fd = cnet_tcp_listen_host("127.0.0.1", 0, 1, 0, &port)
    guard fd >= 0 else { throw FixtureError("listen failed: \(Errno(rawValue: fd))") }
    _ = cnet_close(fd)
    return port
}

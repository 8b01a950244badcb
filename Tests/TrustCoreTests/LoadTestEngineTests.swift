import CNetShim
import Foundation
import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// One load-test loop driven directly, so values that validation would
/// reject today can be tried too: the engine must not trap on any of them,
/// whatever range validation ends up with.
final class LoadTestEngineTests: XCTestCase {
    /// 127.0.0.1:port as the engine takes it.
    private func loopback(_ port: UInt16) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            address.pointee.sin_family = sa_family_t(AF_INET)
            address.pointee.sin_port = port.bigEndian
            address.pointee.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        }
        return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
    }

    /// Runs one loop over all of `options`' slots; stops it after
    /// `stopAfter` seconds if it has not finished by then.
    private func runEngine(_ options: LoadTestOptions, port: UInt16, stopAfter: Double = 0.2) throws -> LoadTestTally {
        let (address, length) = loopback(port)
        let stop = StopRequest()
        let share = LoadTestEngine.Share(
            slots: options.effectiveConcurrency, clients: options.clients, firstClient: 0, firstSlot: 0)
        let engine = try LoadTestEngine(
            options: options, share: share, address: address, addressLength: length, progress: LoadTestProgress(),
            stopRequest: stop)
        let waker = engine.waker
        let thread = LoopThread.start(name: "engine-test", handing: engine) {
            try? $0.run(startedAt: MonotonicClock.nanoseconds())
        }
        if !thread.join(milliseconds: Int(stopAfter * 1000)) {
            stop.request(signal: SIGINT)
            waker.wake()
            XCTAssertTrue(thread.join(milliseconds: 10_000), "a stop request must end the loop")
        }
        return engine.tally
    }

    func testAbsurdRatesAndDurationsNeitherTrapNorHang() throws {
        let port = try EchoServerFixture.port()
        let base = LoadTestOptions(host: "127.0.0.1", port: port, clients: 2, messages: 3, concurrency: 2)
        var cases: [(String, LoadTestOptions)] = []
        for rate in [1e-300, 1e-9, 1e300, .infinity, .nan, -1, 0] {
            var o = base
            o.rate = rate
            cases.append(("rate \(rate)", o))
        }
        for connectRate in [1e-300, 1e-10, 1e300, .infinity, .nan] {
            var o = base
            o.connectRate = connectRate
            cases.append(("connect rate \(connectRate)", o))
        }
        for duration in [1e300, 9.3e9, .infinity, 1e-300] {
            var o = base
            o.duration = duration
            o.rate = 1e-300
            cases.append(("duration \(duration)", o))
        }
        for timeout in [1e300, 9.3e9, .infinity, 1e-300, .nan] {
            var o = base
            o.timeout = timeout
            cases.append(("timeout \(timeout)", o))
        }
        for (name, options) in cases {
            let tally = try runEngine(options, port: port)
            // The first request of slot 0 is always due at the start, unless
            // the run is over at once.
            if options.duration != 1e-300 {
                XCTAssertGreaterThan(tally.ok + tally.failed + tally.cutShort, 0, name)
            }
            XCTAssertNil(tally.firstFailure.flatMap { $0.kind == .mismatch ? $0 : nil }, name)
        }
    }

    func testAStopRequestClosesEverythingAndCountsWhatWasCutShort() throws {
        // A peer that never answers: every round trip is under way when the stop comes.
        let peer = try FakePeer(FakePeer.silent)
        defer { peer.stop() }
        let options = LoadTestOptions(host: "127.0.0.1", port: peer.port, clients: 4, messages: 5, concurrency: 4)
        let tally = try runEngine(options, port: peer.port, stopAfter: 0.3)
        XCTAssertEqual(tally.ok, 0)
        XCTAssertEqual(tally.failed, 0)
        XCTAssertEqual(tally.cutShort, 4)
        XCTAssertEqual(tally.connections, 4)
    }
}

import CNetShim
import XCTest

@testable import TrustCore

final class EventLoopTests: XCTestCase {
    func testTokenPacksDescriptorAndGeneration() {
        let token = EventLoop.Token.make(slot: 19_999, generation: 0xDEAD_BEEF)
        XCTAssertEqual(EventLoop.Token.slot(token), 19_999)
        XCTAssertEqual(EventLoop.Token.generation(token), 0xDEAD_BEEF)
        XCTAssertNotEqual(token, EventLoop.wakeToken)
    }

    func testWakerWakesAWaitingLoopFromAnotherThread() throws {
        let loop = try EventLoop()
        let waker = loop.waker
        let thread = Thread { waker.wake() }
        thread.start()
        // Bounded: a missing wake-up fails the test instead of hanging it.
        let ready = try loop.wait(timeoutMs: 5_000)
        XCTAssertEqual(ready, 1)
        XCTAssertEqual(loop.token(at: 0), EventLoop.wakeToken)
        loop.drainWakeups()
        XCTAssertEqual(try loop.wait(timeoutMs: 0), 0, "drained wake-ups must not report again")
    }

    func testReadinessOfASocketCarriesItsToken() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer {
            _ = cnet_close(fds[0])
            _ = cnet_close(fds[1])
        }
        let token = EventLoop.Token.make(slot: fds[0], generation: 7)
        XCTAssertNil(loop.add(fds[0], .read, token: token))
        XCTAssertEqual(try loop.wait(timeoutMs: 0), 0, "nothing to read yet")
        var byte: UInt8 = 42
        XCTAssertEqual(cnet_send(fds[1], &byte, 1), 1)
        XCTAssertEqual(try loop.wait(timeoutMs: 5_000), 1)
        XCTAssertEqual(loop.token(at: 0), token)
        XCTAssertTrue(loop.events(at: 0).contains(.read))
        XCTAssertNil(loop.modify(fds[0], .write, token: token))
        XCTAssertEqual(try loop.wait(timeoutMs: 5_000), 1)
        XCTAssertTrue(loop.events(at: 0).contains(.write))
    }
}

import Foundation
import Glibc
import Synchronization

/// A plain OS thread for a test's second party (a peer that writes, a
/// blocked reader to signal). Every wait on it is bounded.
final class TestThread: Sendable {
    /// What other threads need to reach this one: pthread_kill wants the
    /// pthread_t, /proc/self/task wants the kernel thread id.
    struct Identity: Sendable {
        let pthread: pthread_t
        let kernelThreadID: Int32
    }

    private let finished = DispatchSemaphore(value: 0)
    private let identified = DispatchSemaphore(value: 0)
    private let identityStorage = Mutex<Identity?>(nil)

    private init() {}

    static func start(_ body: @escaping @Sendable () -> Void) -> TestThread {
        let handle = TestThread()
        let thread = Thread {
            handle.identityStorage.withLock {
                $0 = Identity(pthread: pthread_self(), kernelThreadID: currentKernelThreadID())
            }
            handle.identified.signal()
            body()
            handle.finished.signal()
        }
        thread.start()
        return handle
    }

    /// True when the body returned within `seconds`.
    func join(seconds: Double = 10) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }

    /// True when the body has already returned (does not wait).
    var hasFinished: Bool {
        guard finished.wait(timeout: .now()) == .success else { return false }
        finished.signal()  // put the token back so join() still succeeds
        return true
    }

    /// The running thread's identity, once it has started (bounded wait).
    func identity(seconds: Double = 10) -> Identity? {
        guard identified.wait(timeout: .now() + seconds) == .success else { return nil }
        identified.signal()
        return identityStorage.withLock { $0 }
    }

    /// The scheduler state letter of a thread of this process from
    /// /proc/self/task/TID/stat ("S" = sleeping in a blocking call), or nil.
    static func schedulerState(of kernelThreadID: Int32) -> Character? {
        guard
            let stat = ProcFile.read("/proc/self/task/\(kernelThreadID)/stat"),
            let commandEnd = stat.lastIndex(of: ")")
        else { return nil }
        // The command name may hold spaces and parentheses: the state is the
        // first field after the last ')'.
        return stat[stat.index(after: commandEnd)...].first { $0 != " " }
    }
}

/// The calling thread's kernel thread id, read from the /proc/thread-self
/// link ("PID/task/TID") because Glibc's gettid is not visible to Swift.
func currentKernelThreadID() -> Int32 {
    var buffer = [CChar](repeating: 0, count: 64)
    // Safe: readlink writes at most count - 1 bytes, leaving a terminating NUL.
    let length = buffer.withUnsafeMutableBufferPointer { storage -> Int in
        guard let base = storage.baseAddress else { return -1 }
        return readlink("/proc/thread-self", base, storage.count - 1)
    }
    guard length > 0 else { return -1 }
    let target = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return Int32(target.split(separator: "/").last ?? "") ?? -1
}

/// A value handed from a TestThread back to the test.
final class ResultBox<Value: Sendable>: Sendable {
    private let storage = Mutex<Value?>(nil)

    init() {}

    func set(_ value: Value) { storage.withLock { $0 = value } }
    var value: Value? { storage.withLock { $0 } }
}

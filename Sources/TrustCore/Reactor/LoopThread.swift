import Foundation

/// A thread that runs one event loop (a server worker, a load-test engine,
/// the client's sender) and can be joined. Every user starts its threads
/// here, so stack size, naming and the hand-over of the loop's state are
/// written once.
public final class LoopThread: Sendable {
    /// Stack of every loop thread: the loops keep their state in heap tables,
    /// so 1 MiB is plenty and far below the 8 MiB default per thread.
    public static let stackSize = 1 << 20

    private let finished = DispatchSemaphore(value: 0)

    private init() {}

    /// Starts `body(owned)` on a new thread and returns at once.
    ///
    /// `owned` is handed to the new thread: the caller must not touch it
    /// again until `join` returned (reading results after `join` is fine,
    /// the semaphore orders the accesses). `onExit` runs on the thread after
    /// the body, e.g. to wake a coordinating loop.
    @discardableResult
    public static func start<Owned: AnyObject>(
        name: String, handing owned: Owned, onExit: @escaping @Sendable () -> Void = {},
        _ body: @escaping @Sendable (Owned) -> Void
    ) -> LoopThread {
        let handle = LoopThread()
        let transfer = Transfer(owned)
        let thread = Thread {
            body(transfer.value)
            onExit()
            handle.finished.signal()
        }
        thread.name = name
        thread.stackSize = LoopThread.stackSize
        // The thread is created inside start(), so it inherits this mask:
        // only the coordinating thread ever takes SIGINT/SIGTERM/SIGHUP.
        SignalEvents.withTerminationSignalsBlocked { thread.start() }
        return handle
    }

    /// Starts a body that needs nothing handed over.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> LoopThread {
        start(name: name, handing: Nothing.shared) { _ in body() }
    }

    /// Waits until the thread's body (and `onExit`) returned.
    public func join() { finished.wait() }

    /// Waits at most `milliseconds`; true if the thread finished.
    public func join(milliseconds: Int) -> Bool {
        finished.wait(timeout: .now() + .milliseconds(milliseconds)) == .success
    }

    /// Carries a non-Sendable object to the one thread that uses it. Safe
    /// because the creator gives the object up (see `start`): exactly one
    /// thread uses it at any time, and `join` orders the hand-back.
    private struct Transfer<Value: AnyObject>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private final class Nothing: Sendable {
        static let shared = Nothing()
    }
}

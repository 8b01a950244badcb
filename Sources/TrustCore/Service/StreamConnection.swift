import Logging

/// A handler's view of one connection during a `StreamHandler` call: send
/// bytes, count frames, ask to close. Valid only for the duration of the call
/// (it points into the worker's tables); never store it.
///
/// Nothing here closes the connection under the handler: a failed send is
/// remembered and the core closes after the call returns, so the session the
/// handler is working on stays valid until then.
public struct StreamConnection {
    unowned(unsafe) let io: ConnectionIO
    let slot: UnsafeMutablePointer<ConnectionSlot>
    let index: Int32

    @inline(__always)
    init(io: ConnectionIO, slot: UnsafeMutablePointer<ConnectionSlot>, index: Int32) {
        self.io = io
        self.slot = slot
        self.index = index
    }

    /// Sends `bytes` now, or keeps what the kernel does not take and sends it
    /// when the client reads again (reads pause meanwhile). The bytes may be
    /// the received chunk itself: nothing is copied unless it must wait.
    /// Returns false once the connection has failed; later output is dropped.
    @inline(__always)
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return slot.pointee.failure == 0 }
        return io.send(index, slot, base, bytes.count)
    }

    /// Counts messages completed on this connection (`frames` in logs and
    /// metrics).
    @inline(__always)
    public func countFrames(_ count: Int) {
        slot.pointee.frames &+= UInt64(count)
        io.counters.add(.frames, UInt64(count))
    }

    /// Close once what was sent has left; no more input is delivered.
    public func close(_ reason: CloseReason) {
        if slot.pointee.closeAfterFlush == 0 { slot.pointee.closeAfterFlush = reason.code }
    }

    /// Output sent but not yet taken by the kernel, in bytes.
    public var pendingByteCount: Int { Int(slot.pointee.pendingCount) }

    /// The connection's `request_id` in logs.
    public var requestID: String { io.state.requestID(slot.pointee.serial) }

    /// The client's address as logs show it.
    public var peer: String { slot.pointee.peer.formatted }

    /// The worker's logger, for protocol events (e.g. `frame_echoed`).
    public var logger: Logger { io.logger }

    /// True when debug lines are logged: lets a handler skip building them.
    @inline(__always)
    public var isDebugLogging: Bool { io.debugEnabled }
}

#if canImport(Glibc)
    import Glibc
#endif

/// The core's state of one client connection, stored by value in a table
/// indexed by descriptor. Integers and one optional pointer only, and every
/// field reads correctly from all-zero bytes (a free slot): no Optional of a
/// non-pointer type, reason codes with 0 for "none". An idle connection
/// holds no buffer; `pending` exists only while the client is not reading.
struct ConnectionSlot: BitwiseCopyable {
    /// Bumped on every close, so a stale event for a reused descriptor
    /// number no longer matches.
    var generation: UInt32
    var isOpen: Bool
    /// The connection's socket. On epoll the slot index is the descriptor;
    /// on io_uring slots are handed out separately, because a slot must
    /// outlive its descriptor until the kernel has completed every request.
    var fd: Int32
    /// Reads are paused while output waits in `pending` (backpressure).
    var readPaused: Bool
    /// `--proxy-protocol`: the first bytes go to the worker's PROXY header
    /// parser (its state is in a side table), not to the handler.
    var awaitingProxyHeader: Bool
    /// Close once `pending` is flushed, with this reason code (0: no).
    var closeAfterFlush: UInt8
    /// A send failed with this reason code (0: no); the core closes the
    /// connection as soon as the handler's call returns.
    var failure: UInt8
    var failureErrno: Int32
    /// Output the kernel would not take yet.
    var pending: UnsafeMutableRawPointer?
    var pendingOffset: Int32
    var pendingCount: Int32
    var pendingCapacity: Int32
    var bytesIn: UInt64
    var bytesOut: UInt64
    /// Messages the handler completed (frames echoed, requests answered).
    var frames: UInt64
    var serial: UInt64
    var acceptedAt: Int64
    var peer: PeerAddress
    var uring: UringState
    /// The connection's TLS state (CNetTLS), nil on plain TCP.
    var tls: OpaquePointer?
}

/// A connection's io_uring requests (all zero on epoll).
struct UringState: BitwiseCopyable {
    /// Requests in the kernel (the multishot receive counts once); the slot
    /// is handed out again only at 0.
    var inflight: UInt16
    /// The multishot receive is armed.
    var receiving: Bool
    /// In this turn's send list.
    var sendQueued: Bool
    var sendInFlight: Bool
    /// Waiting for the socket to take output again (a POLLOUT request).
    var pollArmed: Bool
    /// Receive mode. A multishot receive may drain a client's whole socket
    /// into ring buffers in one turn, before a pause can take effect; so a
    /// connection starts on single-shot receives (one buffer per turn) and
    /// is upgraded to multishot once it behaves like request/response
    /// (`drainedReceives` in a row left its socket empty), unless it has
    /// ever failed to take its output (`pressured`: single-shot for good).
    var multishot: Bool
    var pressured: Bool
    var drainedReceives: UInt8
    /// Zero-copy output: the received buffer (id + 1, 0 for none) that a
    /// handler sent from as it is, and where in it the bytes are.
    var heldBuffer: Int32
    var heldCount: Int32
    var heldBase: UnsafeMutableRawPointer?
}

/// Descriptor-indexed slots of one worker, with a parallel table of the
/// handler's sessions. Both are allocated once with calloc for the
/// descriptor limit: the virtual reservation is free and only slots of
/// descriptors actually used are touched.
///
/// A session is initialised on accept and deinitialised on close, so any
/// Swift type works as a session; a slot's bytes are valid when zero.
final class ConnectionTable<Session> {
    let capacity: Int
    private let slots: UnsafeMutablePointer<ConnectionSlot>
    private let sessions: UnsafeMutablePointer<Session>

    init(capacity: Int) {
        self.capacity = capacity
        slots = ZeroedTable.allocate(ConnectionSlot.self, count: capacity, what: "connection slots")
        sessions = ZeroedTable.allocateRaw(Session.self, count: capacity, what: "connection sessions")
    }

    deinit {
        for index in 0..<capacity where slots[index].isOpen { (sessions + index).deinitialize(count: 1) }
        free(slots)
        free(sessions)
    }

    /// Safe for `0 <= index < capacity` (the worker refuses descriptors
    /// beyond the table); checked in debug builds.
    @inline(__always)
    func slot(_ index: Int32) -> UnsafeMutablePointer<ConnectionSlot> {
        assert(index >= 0 && Int(index) < capacity, "connection slot \(index) outside the table")
        return slots + Int(index)
    }

    /// The session of an open slot (initialised by `open`, until `close`).
    @inline(__always)
    func session(_ index: Int32) -> UnsafeMutablePointer<Session> {
        assert(index >= 0 && Int(index) < capacity, "session \(index) outside the table")
        return sessions + Int(index)
    }

    func open(_ index: Int32, session: consuming Session) {
        self.session(index).initialize(to: session)
    }

    func close(_ index: Int32) {
        session(index).deinitialize(count: 1)
    }
}

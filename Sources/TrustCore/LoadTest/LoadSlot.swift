/// The state of one load-test connection slot, stored by value in a
/// calloc'd table indexed by slot: integers only, so a zeroed slot is a
/// valid free slot and nothing is allocated per connection or per message.
struct LoadSlot {
    var fd: Int32
    /// Bumped whenever the slot's connection ends, so a stale epoll event
    /// for an earlier connection of this slot is recognised and ignored.
    var generation: UInt32
    var phase: LoadSlot.Phase
    /// EPOLLOUT is wanted: a connect in progress or a send the kernel did
    /// not take whole.
    var writeArmed: Bool
    /// On the timeout list (connecting or waiting for an echo).
    var timed: Bool
    /// Which client session the slot runs, and its current message.
    var client: Int
    var message: Int
    /// Progress of the current round trip.
    var sent: Int
    var received: Int
    /// Where the current message starts in the pattern buffer.
    var offset: Int
    /// When the current round trip started (its scheduled time with --rate).
    var startedAt: Int64
    /// When the current message was actually sent (uncorrected latency).
    var sentAt: Int64
    /// Open loop: requests this slot has issued, across its sessions.
    var requests: Int64
    /// --reconnect: connections the server ended before answering, in a
    /// row; bounded, so a server that answers nothing still fails.
    var reconnects: UInt8
    /// io_uring: which of the slot's requests are in the ring (a multishot
    /// receive, the connect's poll, one send), so close cancels them; and
    /// the length of the send in flight, of which `sent` already counts
    /// all (a short completion takes back the rest).
    var receiving: Bool
    var polling: Bool
    var sending: Bool
    var sendLength: Int

    enum Phase: UInt8 {
        /// No connection: waiting to start a session, or retired.
        case free = 0
        case connecting
        /// Connected, waiting for the next scheduled send (--rate); the
        /// slot is in the loop's `DueQueue`.
        case scheduled
        /// A round trip is under way.
        case inFlight
    }
}

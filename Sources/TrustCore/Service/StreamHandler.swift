import Logging

/// What a connection does with its bytes: the one thing a protocol writes.
/// Everything else — listening, accepting, descriptor exhaustion, limits,
/// timeouts, backpressure, drain, signals, lifecycle logs, counters — is the
/// core's (`StreamService`).
///
/// The core calls the handler on the connection's worker thread, one call at
/// a time per connection. A handler is a value the core keeps for the
/// server's lifetime (its settings); per-connection state lives in `Session`,
/// which the core creates on accept and destroys on close. `StreamService` is
/// generic over the handler, so the compiler specialises the whole loop for
/// it: no existential, no closure, no allocation per message. Every worker
/// thread holds a copy, hence `Sendable`.
///
/// Cut-through: `received` may send the received bytes themselves
/// (`connection.send(UnsafeRawBufferPointer(chunk))`) — nothing is copied
/// unless the client stops reading. Request/response: feed the chunk to a
/// `FrameDecoder` kept in the session and send one response per frame.
public protocol StreamHandler: Sendable {
    /// Per-connection protocol state.
    associatedtype Session

    /// Writable bytes the core keeps in front of every received chunk, for a
    /// handler that prepends bytes to an echo (held frame headers).
    static var prefixRoom: Int { get }

    /// The protocol's own close reasons (codes from
    /// `CloseReason.firstProtocolCode`), so logs and metrics can name them.
    static var closeReasons: [CloseReason] { get }

    /// Fields for `server_started` that describe this protocol's settings.
    var startFields: Logger.Metadata { get }

    /// What the ready line says of the protocol: `mode auto` in
    /// `listening on 0.0.0.0:9900 (mode auto, 2 workers)`.
    var readyLabel: String { get }

    /// A new connection's state.
    func makeSession() -> Session

    /// New bytes arrived. `chunk` is the core's read buffer, valid only
    /// during the call; the `prefixRoom` bytes before it are scratch. Answer
    /// through `connection` (send, count frames, close).
    func received(_ chunk: UnsafeMutableRawBufferPointer, session: inout Session, connection: inout StreamConnection)

    /// The client half-closed. What is still pending is sent, then the
    /// connection closes with the returned reason.
    func endOfInput(session: inout Session) -> CloseReason

    /// Protocol fields for the `connection_closed` line.
    func describeClose(session: inout Session, reason: CloseReason, into metadata: inout Logger.Metadata)
}

extension StreamHandler {
    public static var prefixRoom: Int { 0 }
    public static var closeReasons: [CloseReason] { [] }
    public var startFields: Logger.Metadata { [:] }
    public var readyLabel: String { String(describing: Self.self) }
    public func endOfInput(session: inout Session) -> CloseReason { .peerClosed }
    public func describeClose(session: inout Session, reason: CloseReason, into metadata: inout Logger.Metadata) {}
}

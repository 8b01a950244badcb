import Logging

/// Raw and framed on one port: per connection, the first byte decides.
/// `0x00` means framed (every valid header of a frame under 16 MiB starts
/// with it), anything else raw — so `nc` and framed clients share a server.
public struct AutoEcho: StreamHandler {
    public struct Session {
        var decided: Decision
        var framed: FramedEcho.Session
    }

    enum Decision: UInt8 {
        case undecided
        case raw
        case framed
    }

    let framed: FramedEcho

    public init(maxFrame: UInt32) {
        framed = FramedEcho(maxFrame: maxFrame)
    }

    public static var prefixRoom: Int { FramedEcho.prefixRoom }

    public var startFields: Logger.Metadata { ["mode": "auto", "max_frame": .stringConvertible(framed.maxFrame)] }
    public var readyLabel: String { "mode auto" }

    public func makeSession() -> Session { Session(decided: .undecided, framed: framed.makeSession()) }

    @inline(__always)
    public func received(
        _ chunk: UnsafeMutableRawBufferPointer, session: inout Session, connection: inout StreamConnection
    ) {
        if session.decided == .undecided {
            session.decided = chunk.load(as: UInt8.self) == 0 ? .framed : .raw
        }
        if session.decided == .raw {
            connection.send(UnsafeRawBufferPointer(chunk))
        } else {
            framed.received(chunk, session: &session.framed, connection: &connection)
        }
    }

    public func endOfInput(session: inout Session) -> CloseReason {
        session.decided == .framed ? framed.endOfInput(session: &session.framed) : .peerClosed
    }

    public func describeClose(session: inout Session, reason: CloseReason, into metadata: inout Logger.Metadata) {
        framed.describeClose(session: &session.framed, reason: reason, into: &metadata)
    }
}

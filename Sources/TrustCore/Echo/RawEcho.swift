import Logging

/// RFC 862 echo: every byte received is sent back as it is (cut-through:
/// the read buffer itself is sent; nothing is copied unless the client stops
/// reading).
public struct RawEcho: StreamHandler {
    public struct Session {}

    public init() {}

    public var startFields: Logger.Metadata { ["mode": "raw"] }
    public var readyLabel: String { "mode raw" }

    public func makeSession() -> Session { Session() }

    @inline(__always)
    public func received(
        _ chunk: UnsafeMutableRawBufferPointer, session: inout Session, connection: inout StreamConnection
    ) {
        connection.send(UnsafeRawBufferPointer(chunk))
    }
}

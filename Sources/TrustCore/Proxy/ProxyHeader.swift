// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// A complete, valid PROXY header. Holds no references, so producing one never allocates.
public struct ProxyHeader: Sendable, Hashable {
    public var version: ProxyProtocolVersion
    /// `.local` only in v2; v1 has no LOCAL command.
    public var command: ProxyCommand
    /// The original client, when the header names one: nil for LOCAL, v1 `UNKNOWN`, and v2
    /// PROXY with an unspecified or AF_UNIX family (the connection keeps its real peer then).
    public var source: IPEndpoint?
    /// The address the original client connected to (the balancer's frontend).
    public var destination: IPEndpoint?
    /// Bytes the header took on the wire, CRLF or TLVs included.
    public var length: Int

    public init(
        version: ProxyProtocolVersion, command: ProxyCommand, source: IPEndpoint?, destination: IPEndpoint?,
        length: Int
    ) {
        self.version = version
        self.command = command
        self.source = source
        self.destination = destination
        self.length = length
    }

    /// True for a v1 `UNKNOWN` header or a v2 PROXY header whose addresses are not IP.
    public var isUnknown: Bool { command == .proxy && source == nil }
}

/// What one `ProxyHeaderParser.parse` call found.
public enum ProxyHeaderParseResult: Sendable, Hashable {
    /// The header is not complete yet; feed the next bytes.
    case needMore
    /// The header is complete: the first `consumed` bytes of this chunk were its end; the
    /// rest of the chunk (if any) is the connection's first payload.
    case done(ProxyHeader, consumed: Int)
    /// Not a valid header; close the connection.
    case invalid(ProxyHeaderError)
}

// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// `--proxy-protocol off|v1|v2|any`: whether each accepted connection must begin with a
/// PROXY header, and which versions are accepted. Never guessed per connection: HAProxy's
/// spec forbids detecting the header's presence, since any client could then spoof it.
public enum ProxyProtocolMode: String, Sendable, CaseIterable {
    case off
    /// Only the text header (`PROXY TCP4 ...\r\n`).
    case v1
    /// Only the binary header (12-byte signature).
    case v2
    /// Either; the first byte tells which.
    case any
}

/// Which PROXY protocol version a header used.
public enum ProxyProtocolVersion: Int, Sendable, Hashable {
    case v1 = 1
    case v2 = 2
}

/// The command of a PROXY header.
public enum ProxyCommand: Sendable, Hashable {
    /// The balancer's own connection (a health check): keep the real peer.
    case local
    /// A relayed connection: the header names the original endpoints (unless UNKNOWN).
    case proxy
}

// Pure Swift on purpose: compiled into the PROXY-protocol fuzzer (see IPAddress.swift).

/// An IP address and a port: where a connection comes from or goes to.
public struct IPEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `1.2.3.4:5678` or `[::1]:5678`, the way logs name a peer.
    public var description: String {
        switch address {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }
}

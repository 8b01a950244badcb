/// A listener's port that may be switched off (`--metrics-port off`). Not an
/// `Optional<UInt16>`: settings are stored as existentials, and a boxed nil
/// would be read back ambiguously.
public enum PortOrOff: Sendable, Equatable {
    case off
    /// 0 picks a free port.
    case port(UInt16)

    public var port: UInt16? {
        if case .port(let port) = self { return port }
        return nil
    }
}

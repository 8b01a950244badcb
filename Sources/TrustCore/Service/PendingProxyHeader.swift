/// A connection whose PROXY header has not fully arrived: its parser and
/// the moment it is given up. Kept in the worker's side table only until the
/// header is read, so the connection slot itself grows by one flag byte.
struct PendingProxyHeader {
    /// How long a balancer has to send the whole header after the accept.
    static let timeoutMs: Int64 = 3000

    var parser: ProxyHeaderParser
    let deadline: Int64
}

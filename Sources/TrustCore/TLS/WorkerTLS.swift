/// One worker's TLS state: the context store, the deadlines of the
/// handshakes under way, the reason a connection's TLS failed (until its
/// close is logged), and the buffer ciphertext leaves through. Only the
/// worker's thread touches it.
final class WorkerTLS {
    /// Ciphertext is taken from OpenSSL in pieces of this size.
    static let scratchSize = 64 * 1024

    let store: TLSContextStore
    let handshakeTimeoutMs: Int64
    let scratch: UnsafeMutableRawPointer
    /// Connections whose handshake is under way, by slot: its deadline.
    var deadlines: [Int32: Int64] = [:]
    /// No handshake is due before this (may be early after removals).
    var earliestDeadline = Int64.max
    /// Why a connection's TLS failed, for its `connection_closed` line.
    var failures: [Int32: String] = [:]

    init(store: TLSContextStore) {
        self.store = store
        self.handshakeTimeoutMs = store.configuration.handshakeTimeoutMs
        self.scratch = .allocate(byteCount: WorkerTLS.scratchSize, alignment: 16)
    }

    deinit { scratch.deallocate() }
}

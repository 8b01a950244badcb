/// `echo-client --tls` / `echo-load-test --tls`: how the server is checked.
public struct TLSClientOptions: Sendable, Equatable {
    /// The CAs the server's certificate must chain to; nil: the system's store.
    public var caFile: String?
    /// No certificate check at all (self-signed test servers).
    public var insecure: Bool
    /// The name sent as SNI and checked against the certificate; nil: the host.
    public var serverName: String?

    public init(caFile: String? = nil, insecure: Bool = false, serverName: String? = nil) {
        self.caFile = caFile
        self.insecure = insecure
        self.serverName = serverName
    }

    /// The client context, or a usage error (64) naming the unreadable CA file.
    public func makeContext() throws(TrustError) -> TLSContext {
        do throws(TrustError) {
            return try TLSContext.client(caFile: caFile, insecure: insecure)
        } catch {
            throw .usage(error.message)
        }
    }
}

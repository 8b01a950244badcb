/// The server's TLS settings (`--tls-cert`, `--tls-key`, `--tls-client-ca`,
/// `--tls-handshake-timeout`; docs/tls.md). nil in `ServiceOptions.tls`:
/// plain TCP.
public struct TLSServerConfiguration: Sendable, Equatable {
    public var certificateFile: String
    public var keyFile: String
    /// Mutual TLS: the CAs a client certificate must chain to.
    public var clientCAFile: String?
    /// Seconds a connection has to complete its handshake.
    public var handshakeTimeout: Double

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil, handshakeTimeout: Double = 10) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
        self.handshakeTimeout = handshakeTimeout
    }

    /// From the server settings: nil when no TLS file is set; a config
    /// error (78) when a certificate comes without its key or the reverse.
    public init?(_ settings: ServerSettings) throws(TrustError) {
        switch (settings.tlsCert, settings.tlsKey) {
        case (nil, nil):
            if settings.tlsClientCA != nil { throw .config("tls-client-ca needs tls-cert and tls-key") }
            return nil
        case (.some, nil):
            throw .config("tls-cert needs tls-key (the certificate's private key)")
        case (nil, .some):
            throw .config("tls-key needs tls-cert")
        case (.some(let cert), .some(let key)):
            self.init(
                certificateFile: cert, keyFile: key, clientCAFile: settings.tlsClientCA,
                handshakeTimeout: settings.tlsHandshakeTimeout)
        }
    }

    var handshakeTimeoutMs: Int64 { ServiceOptions.milliseconds(handshakeTimeout) }
}

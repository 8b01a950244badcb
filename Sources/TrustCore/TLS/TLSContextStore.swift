import Logging
import Synchronization

/// The server's current TLS context, replaced on SIGHUP: each new
/// connection takes the one current at its accept; connections already open
/// keep theirs. A reload that fails keeps the old context.
final class TLSContextStore: Sendable {
    let configuration: TLSServerConfiguration
    private let current: Mutex<TLSContext>

    /// Loads the files now: the server does not start with a bad one.
    init(_ configuration: TLSServerConfiguration) throws(TrustError) {
        self.configuration = configuration
        current = Mutex(try TLSContext.server(configuration))
    }

    /// The context for a new connection (one lock per accept).
    var context: TLSContext { current.withLock { $0 } }

    /// Reads the certificate and key files again (SIGHUP).
    func reload(logger: Logger) {
        do throws(TrustError) {
            let fresh = try TLSContext.server(configuration)
            current.withLock { $0 = fresh }
            logger.info(
                "tls_reloaded",
                metadata: [
                    "signal": "SIGHUP", "tls_cert": "\(configuration.certificateFile)",
                    "tls_key": "\(configuration.keyFile)",
                ])
        } catch {
            logger.error("tls_reload_failed", metadata: ["signal": "SIGHUP", "error": "\(error.message)"])
        }
    }
}

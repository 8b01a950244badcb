import CNetTLS

#if canImport(Glibc)
    import Glibc
#endif

/// One OpenSSL context (certificate, key, settings), shared by every
/// connection made from it. Connections hold their own reference in
/// OpenSSL, so a context replaced on reload may go while they live on.
/// Sendable by hand: an `SSL_CTX` is safe to use from several threads once
/// set up, and nothing here changes it after `init`.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { cnet_tls_ctx_free(pointer) }

    /// A server context from the configuration's files; a config error (78)
    /// naming the file and OpenSSL's reason.
    public static func server(_ configuration: TLSServerConfiguration) throws(TrustError) -> TLSContext {
        let files = Files(
            cert: configuration.certificateFile, key: configuration.keyFile, ca: configuration.clientCAFile,
            caSetting: "tls-client-ca")
        return try make(files) { out, which, err, size in
            cnet_tls_server_ctx_new(
                configuration.certificateFile, configuration.keyFile, configuration.clientCAFile, out, which, err,
                size)
        }
    }

    /// A client context: the CA file the server must chain to (nil: the
    /// system's store), or no check at all when `insecure`.
    public static func client(caFile: String?, insecure: Bool) throws(TrustError) -> TLSContext {
        let files = Files(cert: nil, key: nil, ca: caFile, caSetting: "--tls-ca")
        return try make(files) { out, which, err, size in
            cnet_tls_client_ctx_new(caFile, insecure ? 1 : 0, nil, nil, out, which, err, size)
        }
    }

    private struct Files {
        var cert: String?
        var key: String?
        var ca: String?
        var caSetting: String

        func describe(_ which: Int32) -> String {
            switch which {
            case Int32(CNET_TLS_FILE_CERT): return "tls-cert \(cert ?? "")"
            case Int32(CNET_TLS_FILE_KEY): return "tls-key \(key ?? "")"
            case Int32(CNET_TLS_FILE_CA): return "\(caSetting) \(ca ?? "the system's CA store")"
            default: return "TLS"
            }
        }
    }

    private static func make(
        _ files: Files,
        _ create: (UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<CChar>, Int)
            -> Int32
    ) throws(TrustError) -> TLSContext {
        var context: OpaquePointer?
        var which: Int32 = 0
        var reason = [CChar](repeating: 0, count: 256)
        let rc = reason.withUnsafeMutableBufferPointer { create(&context, &which, $0.baseAddress!, $0.count) }
        guard rc == 0, let context else {
            let text = reason.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let why = text.isEmpty ? Errno(rawValue: rc).description : text
            throw .config("\(files.describe(which)): \(why)")
        }
        return TLSContext(context)
    }
}

import ArgumentParser
import TrustCore

/// `echo-load-test --tls [--tls-ca FILE] [--insecure] [--sni NAME] [--tls-resume]`.
extension EchoLoadTestCommand {
    static let tls = CommandFlag(
        name: "tls", help: "Speak TLS to the server; handshakes/s and handshake time are reported apart.")
    static let tlsCA = CommandValue<OptionalFile>.option(
        "tls-ca", .file, help: "With --tls: the PEM CAs the server's certificate must chain to (default: the system's)."
    )
    static let insecure = CommandFlag(name: "insecure", help: "With --tls: do not check the server's certificate.")
    static let sni = CommandValue<String>.option(
        "sni", .host, help: "With --tls: the server name sent and checked (default: --host).")
    static let tlsResume = CommandFlag(
        name: "tls-resume", help: "With --tls: each connection after a slot's first resumes that slot's last session.")

    static var tlsArguments: [any CommandArgument] { [tls, tlsCA, insecure, sni, tlsResume] }

    /// Sets the TLS options from the command line; each option needs --tls.
    static func applyTLS(_ parsed: ParsedArguments, to options: inout LoadTestOptions) throws {
        let caFile = try parsed.value(tlsCA)?.path
        let serverName = try parsed.value(sni)
        let isInsecure = parsed.isSet(insecure)
        let resume = parsed.isSet(tlsResume)
        guard parsed.isSet(tls) else {
            if caFile != nil || serverName != nil || isInsecure || resume {
                throw ValidationError("--tls-ca, --insecure, --sni and --tls-resume need --tls")
            }
            return
        }
        if isInsecure && caFile != nil { throw ValidationError("--insecure and --tls-ca exclude each other") }
        options.tls = TLSClientOptions(caFile: caFile, insecure: isInsecure, serverName: serverName)
        options.tlsResume = resume
    }
}

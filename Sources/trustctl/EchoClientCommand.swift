import ArgumentParser
import Foundation
import TrustCore

/// `trustctl echo-client` (SPEC §7): send messages, check their echoes.
struct EchoClientCommand: ParsableCommand {
    static let host = CommandValue<String>.operand(
        "host", .host, help: "Server host: a name (localhost), an IPv4 or an IPv6 literal (::1).")
    static let port = CommandValue<UInt16>.operand(
        "port", .integer(.clientPort, placeholder: "port"), help: "Server TCP port.")
    static let messages = CommandValue<String>.operands(
        "message", .text, help: "Messages to send, one frame (or, with --raw, one line) each.")
    static let payloadSize = CommandValue<Int>.option(
        "payload-size", .integer(.clientPayloadSize, placeholder: "bytes"),
        help: "Send one generated payload of this many bytes instead of messages; the server decides whether "
            + "it is too large.")
    static let raw = CommandFlag(
        name: "raw", help: "Send unframed bytes, half-close, read the echo to end of stream (RFC 862).")
    static let timeout = CommandValue<Double>.option(
        "timeout", .decimal(.clientTimeout, placeholder: "seconds"), default: 10,
        help: "Time allowed for the connect and for each send or receive.")
    static let count = CommandValue<Int>.option(
        "count", .integer(.clientCount, placeholder: "n"), default: 1, help: "Send each message this many times.")

    static let tls = CommandFlag(name: "tls", help: "Speak TLS 1.2/1.3 to the server (docs/tls.md).")
    static let tlsCA = CommandValue<OptionalFile>.option(
        "tls-ca", .file, help: "With --tls: the PEM CAs the server's certificate must chain to (default: the system's)."
    )
    static let insecure = CommandFlag(name: "insecure", help: "With --tls: do not check the server's certificate.")
    static let sni = CommandValue<String>.option(
        "sni", .host, help: "With --tls: the server name sent and checked (default: HOST).")

    static let syntax = CommandSyntax(
        command: "echo-client",
        arguments: [host, port, messages, payloadSize, raw, timeout, count, tls, tlsCA, insecure, sni])

    static let configuration = CommandConfiguration(
        commandName: "echo-client",
        abstract: "Send messages to an echo server and verify each echo byte for byte.",
        usage: "",
        discussion: syntax.help(
            prose: """
                Framed by default: each MESSAGE is one frame (4-byte big-endian length + bytes); \
                each echo is read back, compared and printed on its own line. With --raw the \
                messages are sent unframed, one per line, then the client half-closes and reads \
                the echo to end of stream. Exit codes: 0 all echoes verified, 64 usage, \
                65 an echo differed, 69 refused/unreachable/unresolvable, 74 the server closed \
                or reset the connection before the echo was complete (or stdout failed), 75 timeout.
                """),
        helpNames: []
    )

    @Argument(parsing: .captureForPassthrough, help: .private)
    var arguments: [String] = []

    func options() throws -> EchoClient.Options {
        let parsed = try Self.syntax.parse(arguments, helpFor: Self.self)
        let options = EchoClient.Options(
            host: try parsed.value(Self.host) ?? "", port: try parsed.value(Self.port) ?? 0,
            messages: try parsed.values(Self.messages), payloadSize: try parsed.value(Self.payloadSize),
            raw: parsed.isSet(Self.raw), timeout: try parsed.value(Self.timeout, default: 10),
            count: try parsed.value(Self.count, default: 1))
        var withTLS = options
        withTLS.tls = try Self.tlsOptions(parsed)
        do {
            try options.validate()
        } catch {
            throw ValidationError(error.message)
        }
        return withTLS
    }

    /// `--tls` and its options; each of the others needs `--tls`.
    static func tlsOptions(_ parsed: ParsedArguments) throws -> TLSClientOptions? {
        let caFile = try parsed.value(tlsCA)?.path
        let serverName = try parsed.value(sni)
        let isInsecure = parsed.isSet(insecure)
        guard parsed.isSet(tls) else {
            if caFile != nil || serverName != nil || isInsecure {
                throw ValidationError("--tls-ca, --insecure and --sni need --tls")
            }
            return nil
        }
        if isInsecure && caFile != nil { throw ValidationError("--insecure and --tls-ca exclude each other") }
        return TLSClientOptions(caFile: caFile, insecure: isInsecure, serverName: serverName)
    }

    func validate() throws {
        _ = try options()
    }

    func run() throws {
        do {
            let client = try EchoClient(options: try options())
            try client.run { line in StandardOutput.line(line) }
        } catch let error as TrustError {
            throw TrustError(
                kind: error.kind, message: "echo-client: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
    }
}

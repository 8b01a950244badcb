import ArgumentParser
import Foundation
import TrustCore

/// `trustctl echo-client` (SPEC §7): send messages, check their echoes.
struct EchoClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-client",
        abstract: "Send messages to an echo server and verify each echo byte for byte.",
        discussion: """
            Framed by default: each MESSAGE is one frame (4-byte big-endian length + bytes); \
            each echo is read back, compared and printed on its own line. With --raw the \
            messages are sent unframed, one per line, then the client half-closes and reads \
            the echo to end of stream. Exit codes: 0 all echoes verified, 64 usage, \
            65 an echo differed, 69 refused/unreachable/unresolvable, 74 the server closed \
            or reset the connection before the echo was complete, 75 timeout.
            """
    )

    @Argument(help: "Server host: a name (localhost), an IPv4 or an IPv6 literal (::1).")
    var host: String

    @Argument(help: "Server TCP port (1-65535).")
    var port: Int

    @Argument(help: "Messages to send, one frame (or, with --raw, one line) each.")
    var messages: [String] = []

    @Option(
        help: "Send one generated payload of N bytes instead of messages; the server decides whether it is too large.")
    var payloadSize: Int?

    @Flag(help: "Send unframed bytes, half-close, read the echo to end of stream (RFC 862).")
    var raw = false

    @Option(help: "Seconds allowed for the connect and for each send or receive.")
    var timeout: Double = 10

    @Option(help: "Send each message N times.")
    var count: Int = 1

    var options: EchoClient.Options {
        EchoClient.Options(
            host: host, port: UInt16(clamping: port), messages: messages, payloadSize: payloadSize, raw: raw,
            timeout: timeout, count: count)
    }

    func validate() throws {
        guard (1...65535).contains(port) else {
            throw ValidationError("PORT must be between 1 and 65535, got \(port)")
        }
        do {
            try options.validate()
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        do {
            let client = try EchoClient(options: options)
            try client.run { line in print(line) }
        } catch {
            throw TrustError(
                kind: error.kind, message: "echo-client: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
    }
}

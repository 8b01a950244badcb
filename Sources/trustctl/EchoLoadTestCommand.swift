import ArgumentParser
import Foundation
import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// `trustctl echo-load-test` (SPEC §8): many verified round trips, counted.
struct EchoLoadTestCommand: ParsableCommand {
    static let host = CommandValue<String>.option(
        "host", .host, required: true, help: "Server host: a name, an IPv4 or an IPv6 literal.")
    static let port = CommandValue<UInt16>.option(
        "port", .integer(.loadTestPort, placeholder: "port"), required: true, help: "Server TCP port.")
    static let clients = CommandValue<Int>.option(
        "clients", .integer(.loadTestClients, placeholder: "n"), required: true,
        help: "Client sessions in all; each connects, does --messages round trips, disconnects.")
    static let messages = CommandValue<Int>.option(
        "messages", .integer(.loadTestMessages, placeholder: "n"), required: true,
        help: "Verified round trips per client session.")
    static let concurrency = CommandValue<Int>.option(
        "concurrency", .integer(.loadTestConcurrency, placeholder: "n"), default: 1,
        help: "Client sessions connected at once (1: sequential; capped at --clients).")
    static let payloadSize = CommandValue<Int>.option(
        "payload-size", .integer(.loadTestPayloadSize, placeholder: "bytes"), default: 64,
        help: "Payload bytes per message (framed: the 4-byte header not counted; raw: at least 1).")
    static let mode = CommandValue<LoadTestOptions.Mode>.option(
        "mode", .choice(placeholder: "mode"), default: .framed,
        help: "framed (4-byte length + payload per message) or raw (payload bytes only).")
    static let duration = CommandValue<Double>.option(
        "duration", .decimal(.loadTestDuration, placeholder: "seconds"),
        help: "Run this long instead of stopping after --clients sessions; sessions keep cycling.")
    static let rate = CommandValue<Double>.option(
        "rate", .decimal(.loadTestRate, placeholder: "per-second"),
        help: "Open-loop load: round trips per second in total, latency from the scheduled send times.")
    static let connectRate = CommandValue<Double>.option(
        "connect-rate", .decimal(.loadTestConnectRate, placeholder: "per-second"),
        help: "Open at most this many new connections per second.")
    static let timeout = CommandValue<Double>.option(
        "timeout", .decimal(.loadTestTimeout, placeholder: "seconds"), default: 10,
        help: "Time a connect or a round trip may take before it counts as a timeout failure.")
    static let threads = CommandValue<Int>.option(
        "threads", .integer(.loadTestThreads, placeholder: "n"), default: 1,
        help: "Event-loop threads to spread the connections over.")
    static let proxyProtocol = CommandValue<LoadTestOptions.ProxyHeader>.option(
        "proxy-protocol", .choice(placeholder: "version"),
        help: "Begin each connection with a PROXY header (v1 text, v2 binary) carrying its own addresses.")
    static let reconnect = CommandFlag(
        name: "reconnect",
        help:
            "When the server ends a connection before any byte of an answer, connect again and resend (not a failure).")
    static let io = CommandValue<IOSelection>.option(
        "io", .choice(placeholder: "backend"),
        help:
            "IO backend of the load tester: auto takes io_uring where the kernel allows it, else epoll (default: $TRUST_ECHO_IO, else auto)."
    )
    static let transport = CommandValue<LoadTestTransport>.option(
        "transport", .choice(placeholder: "transport"), default: .tcp,
        help: "tcp, or udp: --clients sockets send --messages sequence-numbered datagrams each (docs/udp.md).")
    static let maxLoss = CommandValue<Double>.option(
        "max-loss", .decimal(.loadTestMaxLoss, placeholder: "percent"), default: 0,
        help: "With --transport udp: the loss (percent of datagrams sent) still a success; 0: any loss fails (74).")
    static let json = CommandFlag(
        name: "json", help: "Print one JSON object (results and every input parameter) instead of the summary.")

    static let syntax = CommandSyntax(
        command: "echo-load-test",
        arguments: [
            host, port, clients, messages, concurrency, payloadSize, mode, duration, rate, connectRate, timeout,
            threads, proxyProtocol, reconnect, io, transport, maxLoss, json,
        ] + tlsArguments + LoadTestMeasuringArguments.all)

    static let configuration = CommandConfiguration(
        commandName: "echo-load-test",
        abstract: "Drive an echo server with many clients and verified round trips; report rate and latency.",
        usage: "",
        discussion: syntax.help(
            prose: """
                N clients each connect, do M round trips (send a message, wait for its whole echo, \
                compare it), and disconnect, C at a time. --duration runs for S seconds instead, \
                clients cycling. --rate R makes the load open-loop at R round trips/s in total, \
                latency measured from each request's scheduled send time. The first line of the \
                summary is 'OK/ATTEMPTED ok, FAILED failed'. Exit 0 only if every round trip was \
                verified; otherwise the code of the first failure's kind: 69 refused, 74 reset or \
                closed early, 75 timeout, 65 mismatch. Ctrl-C (SIGINT) or SIGTERM stops the run, prints \
                the summary of what was measured and exits 128 + the signal (130 for Ctrl-C). \
                'trustctl echo-load-test merge [--json] FILE...' combines the --json results of runs \
                made at the same time into one (counts summed, histograms merged losslessly).
                """),
        helpNames: []
    )

    @Argument(parsing: .captureForPassthrough, help: .private)
    var arguments: [String] = []

    func options() throws -> LoadTestOptions {
        let parsed = try Self.syntax.parse(arguments, helpFor: Self.self)
        var options = LoadTestOptions(
            host: try parsed.value(Self.host) ?? "", port: try parsed.value(Self.port) ?? 0,
            clients: try parsed.value(Self.clients) ?? 0, messages: try parsed.value(Self.messages) ?? 0,
            concurrency: try parsed.value(Self.concurrency, default: 1),
            payloadSize: try parsed.value(Self.payloadSize, default: 64),
            mode: try parsed.value(Self.mode, default: .framed), duration: try parsed.value(Self.duration),
            rate: try parsed.value(Self.rate), connectRate: try parsed.value(Self.connectRate),
            timeout: try parsed.value(Self.timeout, default: 10), threads: try parsed.value(Self.threads, default: 1),
            proxyHeader: try parsed.value(Self.proxyProtocol), reconnect: parsed.isSet(Self.reconnect),
            io: try parsed.value(Self.io, default: .auto))
        try Self.applyTLS(parsed, to: &options)
        var measured = options
        measured.measuring = try LoadTestMeasuringArguments.measuring(parsed)
        return try Self.validated(measured)
    }

    static func validated(_ options: LoadTestOptions) throws -> LoadTestOptions {
        do {
            try options.validate()
        } catch {
            throw ValidationError(error.message)
        }
        return options
    }

    /// `TRUST_ECHO_IO`, the server's variable (SPEC §18), when --io is not
    /// given: one variable puts a whole test run on one backend.
    static func ioFromEnvironment() throws -> IOSelection {
        guard let text = ProcessInfo.processInfo.environment["TRUST_ECHO_IO"] else { return .auto }
        guard let selection = IOSelection(rawValue: text) else {
            throw TrustError.config(
                "TRUST_ECHO_IO: \"\(text)\" is not a backend: expected auto, epoll or io_uring")
        }
        return selection
    }

    func validate() throws {
        if arguments.first == LoadTestMergeCommand.name { return }
        let options = try options()
        let parsed = try Self.syntax.parse(arguments, helpFor: Self.self)
        if try parsed.value(Self.transport, default: .tcp) == .udp
            && (options.tls != nil || options.proxyHeader != nil || options.reconnect)
        {
            throw ValidationError("--transport udp: --tls, --proxy-protocol and --reconnect are TCP options")
        }
    }

    func run() throws {
        if arguments.first == LoadTestMergeCommand.name {
            try LoadTestMergeCommand.run(Array(arguments.dropFirst()))
            return
        }
        var options = try options()
        let parsed = try Self.syntax.parse(arguments, helpFor: Self.self)
        if parsed.values[Self.io.name] == nil { options.io = try Self.ioFromEnvironment() }
        if try parsed.value(Self.transport, default: .tcp) == .udp {
            return try runUDP(options, maxLoss: try parsed.value(Self.maxLoss, default: 0), parsed)
        }
        let outputs = try LoadTestMeasuringArguments.Outputs(parsed)
        let report: LoadTestReport
        do {
            report = try LoadTest(options: options).run(
                progress: isatty(2) == 1, stoppingOn: [SIGINT, SIGTERM], onInterval: outputs.intervalPrinter)
        } catch {
            throw TrustError(
                kind: error.kind, message: "echo-load-test: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
        StandardOutput.line(parsed.isSet(Self.json) || outputs.jsonStream ? report.json : report.summary)
        try StandardOutput.flush()
        try outputs.write(report)
        if let error = report.error {
            if error.kind == .interrupted, let signal = error.signal {
                throw TrustError.interrupted(signal: signal, message: "echo-load-test: \(error.message)")
            }
            throw TrustError(
                kind: error.kind, message: "echo-load-test: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
    }
}

extension EchoLoadTestCommand {
    /// `--transport udp`: UDPLoadTest (Sources/TrustCore/LoadTest/UDPLoadTest.swift).
    fileprivate func runUDP(_ options: LoadTestOptions, maxLoss: Double, _ parsed: ParsedArguments) throws {
        let report: UDPLoadReport
        do {
            report = try UDPLoadTest(options: options, maxLoss: maxLoss).run()
        } catch {
            throw TrustError(
                kind: error.kind, message: "echo-load-test: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
        StandardOutput.line(parsed.isSet(Self.json) ? report.json : report.summary)
        try StandardOutput.flush()
        if let error = report.error {
            throw TrustError(
                kind: error.kind, message: "echo-load-test: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
    }
}

import ArgumentParser
import Foundation
import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// `trustctl echo-load-test` (SPEC §8): many verified round trips, counted.
struct EchoLoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-load-test",
        abstract: "Drive an echo server with many clients and verified round trips; report rate and latency.",
        discussion: """
            N clients each connect, do M round trips (send a message, wait for its whole echo, \
            compare it), and disconnect, C at a time. --duration runs for S seconds instead, \
            clients cycling. --rate R makes the load open-loop at R round trips/s in total, \
            latency measured from each request's scheduled send time. The first line of the \
            summary is 'OK/ATTEMPTED ok, FAILED failed'. Exit 0 only if every round trip was \
            verified; otherwise the code of the first failure's kind: 69 refused, 74 reset or \
            closed early, 75 timeout, 65 mismatch. Ctrl-C (SIGINT) or SIGTERM stops the run, prints \
            the summary of what was measured and exits 128 + the signal (130 for Ctrl-C).
            """
    )

    @Option(help: "Server host: a name, an IPv4 or an IPv6 literal.")
    var host: String

    @Option(help: "Server TCP port (1-65535).")
    var port: Int

    @Option(help: "Client sessions in all; each connects, does --messages round trips, disconnects.")
    var clients: Int

    @Option(help: "Verified round trips per client session.")
    var messages: Int

    @Option(help: "Client sessions connected at once (default 1: sequential; capped at --clients).")
    var concurrency: Int = 1

    @Option(help: "Payload bytes per message (framed: 0 or more, the 4-byte header not counted; raw: 1 or more).")
    var payloadSize: Int = 64

    @Option(help: "framed (4-byte length + payload per message) or raw (payload bytes only).")
    var mode: String = "framed"

    @Option(help: "Run for S seconds instead of stopping after --clients sessions; sessions keep cycling.")
    var duration: Double?

    @Option(help: "Open-loop load: R round trips per second in total, latency from the scheduled send times.")
    var rate: Double?

    @Option(help: "Open at most R new connections per second.")
    var connectRate: Double?

    @Option(help: "Seconds a connect or a round trip may take before it counts as a timeout failure.")
    var timeout: Double = 10

    @Option(help: "Event-loop threads to spread the connections over.")
    var threads: Int = 1

    @Flag(help: "Print one JSON object (results and every input parameter) instead of the summary.")
    var json = false

    func options() throws -> LoadTestOptions {
        guard let parsedMode = LoadTestOptions.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be framed or raw, got '\(mode)'")
        }
        guard (1...65535).contains(port) else {
            throw ValidationError("--port must be between 1 and 65535, got \(port)")
        }
        return LoadTestOptions(
            host: host, port: UInt16(port), clients: clients, messages: messages, concurrency: concurrency,
            payloadSize: payloadSize, mode: parsedMode, duration: duration, rate: rate, connectRate: connectRate,
            timeout: timeout, threads: threads)
    }

    func validate() throws {
        do {
            try options().validate()
        } catch let error as TrustError {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        let report: LoadTestReport
        do {
            report = try LoadTest(options: try options()).run(progress: isatty(2) == 1, stoppingOn: [SIGINT, SIGTERM])
        } catch let error as TrustError {
            throw TrustError(
                kind: error.kind, message: "echo-load-test: \(error.message)", errno: error.errno,
                operation: error.operation)
        }
        print(json ? report.json : report.summary)
        fflush(nil)
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

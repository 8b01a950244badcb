// PROVISIONAL smoke-test entry point; replaced by the CLI branch on merge.
import Foundation
import Logging
import TrustCore

let args = CommandLine.arguments
func arg(_ name: String, _ def: String) -> String {
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return def
}
do {
    let signals = try SignalEvents([SIGINT, SIGTERM, SIGHUP])
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = Logger.Level(rawValue: arg("--log-level", "warning")) ?? .warning
        return h
    }
    let logger = Logger(label: "trustctl")
    let options = EchoServer.Options(
        host: arg("--host", "0.0.0.0"), port: UInt16(arg("--port", "0"))!, mode: EchoMode(rawValue: arg("--mode", "auto"))!,
        idleTimeout: Double(arg("--timeout", "300"))!, maxFrame: UInt32(arg("--max-frame", "65536"))!,
        maxClients: Int(arg("--max-clients", "10000"))!, workers: Int(arg("--workers", "2"))!,
        drainTimeout: Double(arg("--drain-timeout", "5"))!)
    let server = EchoServer(options: options, logger: logger, signals: signals, onHangup: {})
    let outcome = try server.run { port in
        print(EchoServer.readyLine(host: options.host, port: port, mode: options.mode, workers: options.workers))
        fflush(nil)
    }
    if case .interrupted(let s) = outcome { exit(128 + s) }
} catch {
    FileHandle.standardError.write(Data("\(error.message)\n".utf8))
    exit(error.exitStatus.rawValue)
}

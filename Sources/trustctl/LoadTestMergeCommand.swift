import ArgumentParser
import Foundation
import TrustCore

/// `trustctl echo-load-test merge [--json] FILE...` (SPEC §8): reached
/// through `EchoLoadTestCommand`, whose arguments pass through whole.
enum LoadTestMergeCommand {
    static let name = "merge"

    static let json = CommandFlag(name: "json", help: "Print one JSON object instead of the summary.")
    static let files = CommandValue<String>.operands(
        "file", .outputPath, help: "--json results of runs made at the same time.")
    static let syntax = CommandSyntax(command: "echo-load-test merge", arguments: [files, json])

    static func run(_ arguments: [String]) throws {
        let parsed = try syntax.parse(arguments, helpFor: EchoLoadTestCommand.self)
        let paths = try parsed.values(files)
        guard !paths.isEmpty else { throw ValidationError("merge: expected one or more FILEs (--json results)") }
        var inputs: [(name: String, contents: Data)] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TrustError(kind: .dataMismatch, message: "echo-load-test merge: \(path): cannot read the file")
            }
            inputs.append((path, data))
        }
        let merged: LoadTestMerge
        do {
            merged = try LoadTestMerge(files: inputs)
        } catch {
            if error.kind == .usage { throw ValidationError(error.message) }
            throw TrustError(kind: error.kind, message: "echo-load-test \(error.message)")
        }
        StandardOutput.line(parsed.isSet(json) ? merged.json : merged.summary)
        try StandardOutput.flush()
        if merged.exitCode != 0 {
            let message =
                "echo-load-test merge: \(merged.failed) of \(merged.attempted) round trips failed; exit code of the first failing run"
            throw error(exitCode: merged.exitCode, message: message)
        }
    }

    /// A run's exit code as the error the process exits with (its one
    /// line, then that code): the kinds of LoadTestReport.error.
    static func error(exitCode: Int, message: String) -> TrustError {
        switch exitCode {
        case 65: return TrustError(kind: .dataMismatch, message: message)
        case 69: return TrustError(kind: .unavailable, message: message)
        case 74: return TrustError(kind: .closedEarly, message: message)
        case 75: return TrustError(kind: .system, message: message, errno: .timedOut)
        case 129...192: return .interrupted(signal: Int32(exitCode - 128), message: message)
        default:
            let status = ExitStatus(rawValue: Int32(exitCode))
            return status == .osError
                ? TrustError(kind: .system, message: message) : TrustError(kind: .internal, message: message)
        }
    }
}

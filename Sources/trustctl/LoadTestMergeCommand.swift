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
            throw ExitCode(Int32(merged.exitCode))
        }
    }
}

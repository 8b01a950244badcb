import Foundation
import XCTest

/// Runs a Python script over byte files, for checking our output with real third-party
/// parsers (http.client, prometheus_client) rather than with our own reading of the formats.
enum PythonRunner {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes each of `files` to a temporary file, runs `python3 -c script FILE...` and
    /// returns its standard output; throws with its standard error when it exits non-zero.
    static func run(script: String, files: [[UInt8]]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "trustctl-python-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var paths: [String] = []
        for (index, bytes) in files.enumerated() {
            let url = directory.appendingPathComponent("input-\(index)")
            try Data(bytes).write(to: url)
            paths.append(url.path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + paths
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description: "python3 exited \(process.terminationStatus): "
                    + String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: outputData, as: UTF8.self)
    }
}

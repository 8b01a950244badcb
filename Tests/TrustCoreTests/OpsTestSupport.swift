import Foundation
import Synchronization
import XCTest

/// Runs a third-party tool (python3, haproxy, systemd-analyze) and collects its output, for
/// checking our bytes with real peers rather than with our own reading of the formats.
enum ToolRunner {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Result {
        let status: Int32
        let output: String
        let errors: String
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain stderr on another thread so that neither pipe can fill and stall the tool.
        let errorData = Mutex(Data())
        let errorReader = Thread { errorData.withLock { $0 = errors.fileHandleForReading.readDataToEndOfFile() } }
        errorReader.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorReader.isFinished { usleep(1_000) }
        return Result(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            errors: errorData.withLock { String(decoding: $0, as: UTF8.self) })
    }
}

/// Runs a Python script over byte files (http.client, prometheus_client as the parsers).
enum PythonRunner {
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
        let result = try ToolRunner.run("/usr/bin/env", ["python3", "-c", script] + paths)
        guard result.status == 0 else {
            throw ToolRunner.Failure(description: "python3 exited \(result.status): \(result.errors)")
        }
        return result.output
    }
}

/// `stream` cut into consecutive chunks of the given sizes (the last takes what is left),
/// each with its offset: how the parser tests feed a connection's bytes.
func chunks(of stream: [UInt8], sizes: [Int]) -> [(offset: Int, bytes: [UInt8])] {
    var result: [(offset: Int, bytes: [UInt8])] = []
    var offset = 0
    var sizes = sizes[...]
    while offset < stream.count {
        let size = min(sizes.popFirst() ?? stream.count, stream.count - offset)
        result.append((offset, Array(stream[offset..<(offset + size)])))
        offset += size
    }
    return result
}

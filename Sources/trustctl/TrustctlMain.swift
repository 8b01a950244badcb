import ArgumentParser
import Foundation
import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// The process entry point and the only place that calls `exit`.
///
/// Policy (SPEC §5): help and version go to stdout with exit 0; every failure
/// prints exactly one line on stderr — no usage dump, no stack trace — and
/// exits with its sysexits code. Subcommands report failures by throwing
/// `TrustError`; anything else that escapes is a bug (70). Output goes
/// through `StandardOutput`, so a failed write to stdout is exit 74.
@main
enum TrustctlMain {
    /// Program names that act as `trustctl <name>` (make links them to trustctl).
    static let dispatchedNames: Set<String> = ["echo-client", "echo-load-test"]

    static func main() {
        StandardOutput.reserveStandardDescriptors()
        let arguments = commandArguments(CommandLine.arguments)
        let command: any ParsableCommand
        do {
            command = try Trustctl.parseAsRoot(arguments)
        } catch {
            let status = Trustctl.exitCode(for: error)
            if status == .success { succeed(printing: Trustctl.fullMessage(for: error)) }
            var message = oneLine(Trustctl.message(for: error))
            if message.isEmpty { message = "invalid command line" }
            fail("\(message) (see 'trustctl --help')", status: status.rawValue)
        }
        do {
            var runnable = command
            try runnable.run()
            succeed(printing: nil)
        } catch let error as TrustError {
            flushAfterFailure()
            fail(oneLine(error.message), status: error.exitCode)
        } catch let error as StandardOutput.WriteError {
            fail(error.message, status: ExitStatus.ioError.rawValue)
        } catch let code as ExitCode {
            // Subcommands should throw TrustError; an ExitCode still gets its one line.
            if code.isSuccess { succeed(printing: nil) }
            fail("trustctl: failed with exit status \(code.rawValue)", status: code.rawValue)
        } catch {
            // A group command run alone throws a help request: print help, exit 0.
            let status = Trustctl.exitCode(for: error)
            if status == .success { succeed(printing: Trustctl.fullMessage(for: error)) }
            // A ValidationError thrown from run() is still a usage error.
            if status == .validationFailure {
                fail(
                    "\(oneLine(Trustctl.message(for: error))) (see 'trustctl --help')",
                    status: status.rawValue)
            }
            fail(
                "internal error: \(oneLine(String(describing: error)))",
                status: ExitStatus.software.rawValue)
        }
    }

    /// Prints `text` (help, version) if any, flushes stdout and exits 0 —
    /// or 74 if stdout cannot take it.
    static func succeed(printing text: String?) -> Never {
        if let text { StandardOutput.line(text) }
        do {
            try StandardOutput.flush()
        } catch {
            fail(error.message, status: ExitStatus.ioError.rawValue)
        }
        exit(0)
    }

    /// What a failing command printed before it failed (a summary) still
    /// goes out; the command's own error is the one line reported.
    static func flushAfterFailure() {
        try? StandardOutput.flush()
    }

    /// The arguments for the root command: those after the program name, with
    /// the program name put first when it is a link such as `./echo-client`,
    /// so `echo-client HOST PORT` runs as `trustctl echo-client HOST PORT`.
    static func commandArguments(_ argv: [String]) -> [String] {
        let rest = Array(argv.dropFirst())
        guard let programPath = argv.first else { return rest }
        let programName = programPath.split(separator: "/").last.map(String.init) ?? programPath
        return dispatchedNames.contains(programName) ? [programName] + rest : rest
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func fail(_ line: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data((line + "\n").utf8))
        exit(status)
    }
}

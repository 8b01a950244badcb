import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A real terminal for black-box tests of what trustctl draws on one: a
/// tmux server of its own (its socket in the test's directory, no user
/// configuration) with one detached pane of a fixed size.
///
/// The pane starts a shell that waits for Enter before it runs the
/// command, so everything the command writes is recorded raw (`pipe-pane`)
/// from its first byte; the shell records the command's exit status, and
/// the pane stays readable after it exits (`remain-on-exit`). Every tmux
/// call and every wait is bounded.
final class TmuxPane {
    static let program = "/usr/bin/tmux"
    let socket: URL
    let rawFile: URL
    let statusFile: URL
    private let target = "load"

    /// - Parameters:
    ///   - command: argv of the program to run in the pane.
    ///   - environment: the program's whole environment.
    init(directory: URL, columns: Int, rows: Int, command: [String], environment: [String: String]) throws {
        guard FileManager.default.isExecutableFile(atPath: TmuxPane.program) else {
            throw TrustctlProcessError("tmux is not installed (apt-get install -y tmux; .ci/run installs it)")
        }
        socket = directory.appendingPathComponent("tmux.sock")
        rawFile = directory.appendingPathComponent("pane.raw")
        statusFile = directory.appendingPathComponent("pane.status")
        let config = directory.appendingPathComponent("tmux.conf")
        try Data("set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n".utf8).write(to: config)
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let program = (["/usr/bin/env", "-i"] + assignments + command).map(TmuxPane.quoted).joined(separator: " ")
        try tmux([
            "-f", config.path, "new-session", "-d", "-s", target, "-x", String(columns), "-y", String(rows),
            // The shell traps SIGINT with a handler (not ignoring it, which
            // the program would inherit) so that Ctrl-C reaches the program
            // and the shell lives on to record its exit status.
            "/bin/sh", "-c", "trap : INT; read go; \(program); echo $? > \(TmuxPane.quoted(statusFile.path))",
        ])
        try tmux(["pipe-pane", "-t", target, "-o", "cat >> \(TmuxPane.quoted(rawFile.path))"])
        try tmux(["send-keys", "-t", target, "Enter"])
    }

    deinit {
        _ = try? tmux(["kill-server"])
    }

    /// The visible screen, one string per row, trailing spaces trimmed.
    func screen() throws -> [String] {
        try tmux(["capture-pane", "-p", "-t", target]).split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).replacingOccurrences(of: " +$", with: "", options: .regularExpression) }
    }

    /// Types keys into the pane, e.g. `C-c`.
    func sendKeys(_ keys: String) throws { try tmux(["send-keys", "-t", target, keys]) }

    /// Everything the program wrote to the terminal so far, bytes as sent.
    var raw: String { (try? String(contentsOf: rawFile, encoding: .utf8)) ?? "" }

    /// Polls (bounded) until the screen has a row matching `predicate`.
    func waitForRow(timeout: Double = 20, where predicate: (String) -> Bool) throws -> String? {
        var found: String?
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            found = try screen().first(where: predicate)
            if found != nil { return found }
            usleep(20_000)
        }
        return nil
    }

    /// The program's exit status (as the shell reports it: 128 + N if a
    /// signal N killed it), or nil if it is still running after `timeout`
    /// seconds. Read from a file the pane's shell writes: tmux's own
    /// `pane_dead_status` was seen to stay empty now and then.
    func waitForExit(timeout: Double = 30) throws -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if let text = try? String(contentsOf: statusFile, encoding: .utf8), text.hasSuffix("\n"),
                let status = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return status
            }
            usleep(20_000)
        }
        return nil
    }

    @discardableResult
    private func tmux(_ arguments: [String]) throws -> String {
        let outputFile = socket.deletingLastPathComponent().appendingPathComponent("tmux-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let status = try TmuxPane.spawnAndWait(
            [TmuxPane.program, "-S", socket.path] + arguments,
            environment: ["PATH=/usr/bin:/bin", "TERM=xterm-256color", "HOME=\(NSTemporaryDirectory())"],
            output: outputFile.path, timeout: 10)
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        guard let status else {
            throw TrustctlProcessError("tmux \(arguments.joined(separator: " ")) did not finish in 10 s")
        }
        guard status == 0 else {
            throw TrustctlProcessError("tmux \(arguments.joined(separator: " ")) failed (\(status)): \(text)")
        }
        return text
    }

    /// Runs `argv` with stdout and stderr to the file `output` and no other
    /// descriptor of this process, and returns its wait status, or nil
    /// after killing it when it outlives `timeout` seconds.
    ///
    /// posix_spawn rather than Foundation's Process: Process learns of a
    /// child's exit through a descriptor the child inherits, and the tmux
    /// server that `new-session` forks keeps it, so Process would wait for
    /// the server rather than the client.
    private static func spawnAndWait(_ argv: [String], environment: [String], output: String, timeout: Double)
        throws -> Int32?
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let rc = withCStrings(argv) { args in
            withCStrings(environment) { env in posix_spawn(&pid, argv[0], &actions, nil, args, env) }
        }
        guard rc == 0 else { throw TrustctlProcessError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        let deadline = Date(timeIntervalSinceNow: timeout)
        var status: Int32 = 0
        // Bounded by the deadline.
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return nil
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// `body` with `strings` as a NULL-terminated C array; the copies live
    /// until `body` returns.
    private static func withCStrings<Result>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result
    ) -> Result {
        let copies = strings.map { strdup($0) } + [nil]
        defer { for copy in copies { free(copy) } }
        return body(copies)
    }

    /// Single-quoted for /bin/sh.
    static func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

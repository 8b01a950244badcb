import Foundation
import XCTest

/// A private view of the resolver's files for one trustctl run: the child
/// is started through `unshare --mount` (and `--net` when asked), which
/// bind-mounts test-made copies of `/etc/hosts`, `/etc/nsswitch.conf` and
/// `/etc/resolv.conf` over the real ones for that process only, then execs
/// trustctl in place (same PID). Needs root, as on CI and the dev machines.
struct ResolverNamespace {
    /// Stock Debian/Ubuntu: `::1` listed before `127.0.0.1` for localhost.
    static let debianHosts = "::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n"

    let launcher: [String]

    /// - Parameters:
    ///   - hosts: the `/etc/hosts` the child sees.
    ///   - dns: false: `hosts: files` only, so a name missing from `hosts`
    ///     fails at once (EAI_NONAME) without any DNS query. true: `files
    ///     dns` with a resolv.conf naming 127.0.0.1 inside a fresh network
    ///     namespace whose loopback is down, so no resolver is reachable
    ///     (EAI_AGAIN) and no query leaves the machine.
    init(in directory: URL, hosts: String = ResolverNamespace.debianHosts, dns: Bool = false) throws {
        let files = [
            ("hosts", hosts, "/etc/hosts"),
            ("nsswitch.conf", dns ? "hosts: files dns\n" : "hosts: files\n", "/etc/nsswitch.conf"),
            ("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", "/etc/resolv.conf"),
        ]
        var script: [String] = []
        var paths: [String] = []
        for (index, (name, text, target)) in files.enumerated() {
            let file = directory.appendingPathComponent("namespace-\(name)")
            try Data(text.utf8).write(to: file)
            script.append("mount --bind \"$\(index + 1)\" \(target)")
            paths.append(file.path)
        }
        let body = script.joined(separator: " && ") + " && shift \(files.count) && exec \"$@\""
        launcher =
            ["/usr/bin/unshare", "--mount"] + (dns ? ["--net"] : []) + ["--", "/bin/sh", "-c", body, "sh"] + paths
    }
}

extension XCTestCase {
    /// Runs `trustctl ARGS` to completion inside `namespace` (bounded).
    func runTrustctl(
        _ arguments: [String], environment: [String: String], in namespace: ResolverNamespace,
        timeout: Double = 30
    ) throws -> TrustctlResult {
        let child = try startTrustctl(arguments, environment: environment, launcher: namespace.launcher)
        let status = try child.waitForExit(timeout: timeout)
        return TrustctlResult(exitCode: status, stdout: child.stdout, stderr: child.stderr)
    }
}

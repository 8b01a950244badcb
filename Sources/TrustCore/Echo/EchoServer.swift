/// The echo server of SPEC §6: the service core with the echo handler the
/// mode names (`RawEcho`, `FramedEcho`, `AutoEcho`) — one specialisation of
/// the core per handler type.
public enum EchoServer {
    /// Runs `trustctl echo-server` with resolved settings until stopped.
    public static func run(
        settings: ServerSettings, trustHome: TrustHome, inherited: [InheritedListener] = []
    ) throws(TrustError) {
        let maxFrame = settings.maxFrame
        let label = "trustctl.echo-server"
        switch settings.mode {
        case .raw:
            try ServerLauncher.run(
                RawEcho(), settings: settings, trustHome: trustHome, logLabel: label, inherited: inherited)
        case .framed:
            try ServerLauncher.run(
                FramedEcho(maxFrame: maxFrame), settings: settings, trustHome: trustHome, logLabel: label,
                inherited: inherited)
        case .auto:
            try ServerLauncher.run(
                AutoEcho(maxFrame: maxFrame), settings: settings, trustHome: trustHome, logLabel: label,
                inherited: inherited)
        }
    }

    /// The ready line of SPEC §6: `listening on HOST:PORT (mode M, N workers)`.
    public static func readyLine(host: String, port: UInt16, mode: EchoMode, workers: Int) -> String {
        ServerLauncher.readyLine(host: host, port: port, label: "mode \(mode.rawValue)", workers: workers)
    }
}

/// The options of `echo-load-test` for measuring real systems (SPEC §8,
/// "More, for measuring real systems"): intervals, warm-up, and the local
/// addresses connections are bound to. Kept apart from `LoadTestOptions`'
/// basic fields, which hold one value of this type.
public struct LoadTestMeasuring: Sendable, Equatable {
    /// Seconds per reported interval (`--interval`), nil: no intervals.
    public var interval: Double?
    /// Seconds at the start that are run but not counted (`--warmup`).
    public var warmup: Double?
    /// Local addresses to bind connections to, round-robin (`--source-ip`).
    public var sourceAddresses: LoadSourceAddresses?

    public init(interval: Double? = nil, warmup: Double? = nil, sourceAddresses: LoadSourceAddresses? = nil) {
        self.interval = interval
        self.warmup = warmup
        self.sourceAddresses = sourceAddresses
    }

    /// Checks the rules across options (after the ranges).
    func validate(duration: Double?) throws(TrustError) {
        if let interval { try NumberRange.loadTestInterval.check(interval, "--interval") }
        if let warmup {
            try NumberRange.loadTestWarmup.check(warmup, "--warmup")
            guard let duration else { throw .usage("--warmup needs --duration (the warm-up is part of it)") }
            guard warmup < duration else {
                throw .usage(
                    "--warmup \(NumberRange.format(warmup)) must be shorter than --duration \(NumberRange.format(duration))"
                )
            }
        }
    }
}

/// The local IPv4 or IPv6 addresses of `--source-ip`: a comma-separated
/// list of literals, or one CIDR block (every address in it, at most 4096;
/// for IPv4 blocks shorter than /31 the network and broadcast addresses are
/// left out).
public struct LoadSourceAddresses: Sendable, Equatable, CustomStringConvertible {
    public let addresses: [String]
    public let description: String

    public static let maxAddresses = 4096

    public init?(parsing text: String) {
        description = text
        if text.contains("/") {
            guard let expanded = LoadSourceAddresses.expand(cidr: text) else { return nil }
            addresses = expanded
        } else {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !parts.isEmpty, parts.count <= LoadSourceAddresses.maxAddresses,
                parts.allSatisfy({ LoadSourceAddresses.isLiteral($0) })
            else { return nil }
            addresses = parts
        }
    }

    static func isLiteral(_ text: String) -> Bool { IPAddress(text) != nil }

    /// Only IPv4 blocks expand (an IPv6 block of 4096 addresses is a /116).
    static func expand(cidr text: String) -> [String]? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, case .v4(let base) = IPAddress(String(parts[0])), let bits = Int(parts[1]),
            (0...32).contains(bits), parts[1].allSatisfy(\.isASCII)
        else { return nil }
        let size = UInt64(1) << UInt64(32 - bits)
        let skipEnds = bits < 31
        let usable = skipEnds ? size - 2 : size
        guard usable >= 1, usable <= UInt64(maxAddresses) else { return nil }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
        let first = UInt64(base & mask) + (skipEnds ? 1 : 0)
        return (0..<usable).map { IPAddress.v4(UInt32(first + $0)).description }
    }
}

extension SettingFormat where Value == String {
    /// A file to write (`--hdr-out`, `--plot`): any non-empty path.
    public static var outputPath: SettingFormat {
        SettingFormat(
            accepted: "a file path", placeholder: "file", jsonType: .string,
            read: { $0.isEmpty || $0.utf8.contains(0) ? .failure(.notAccepted) : .success($0) }, show: { $0 })
    }
}

extension SettingFormat where Value == LoadSourceAddresses {
    /// `--source-ip`: comma-separated addresses or an IPv4 CIDR block.
    public static var sourceAddresses: SettingFormat {
        SettingFormat(
            accepted: "comma-separated IP addresses or an IPv4 CIDR block such as 127.0.0.2/30", placeholder: "list",
            jsonType: .string,
            read: { LoadSourceAddresses(parsing: $0).map { .success($0) } ?? .failure(.notAccepted) },
            show: { $0.description })
    }
}

/// Where an effective setting came from, highest precedence first (SPEC §4).
public enum ConfigOrigin: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case flag
    case env
    case file
    case `default`

    public var description: String { rawValue }
}

/// One line of `config show`: the setting, its value as text, and its origin.
public struct EffectiveSetting: Sendable, Equatable {
    public let name: String
    /// The value as a user would write it; `none` for a port set nowhere.
    public let value: String
    public let origin: ConfigOrigin

    public init(name: String, value: String, origin: ConfigOrigin) {
        self.name = name
        self.value = value
        self.origin = origin
    }

    /// `port 9900 flag`, with the name and value columns padded so rows align.
    public static func format(_ rows: [EffectiveSetting]) -> [String] {
        let nameWidth = rows.map(\.name.count).max() ?? 0
        let valueWidth = rows.map(\.value.count).max() ?? 0
        return rows.map { row in
            row.name.padded(to: nameWidth) + "  " + row.value.padded(to: valueWidth) + "  " + row.origin.rawValue
        }
    }
}

extension String {
    fileprivate func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

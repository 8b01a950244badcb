/// How the text of one setting becomes its value and back: the one parser
/// every layer (flag, environment, config.json) goes through, the words
/// error messages and help use for what it accepts, and the JSON type
/// config.json must give it.
public struct SettingFormat<Value: Sendable & Equatable>: Sendable {
    /// Worded to follow "expected ": `seconds 0 (none) or 0.001-604800`.
    public let accepted: String
    /// The help placeholder without brackets: `seconds` for `<seconds>`.
    public let placeholder: String
    public let jsonType: SettingJSONType
    public let read: @Sendable (String) -> Result<Value, ValueProblem>
    /// The value as a user would write it (`config show`, help defaults).
    public let show: @Sendable (Value) -> String

    public init(
        accepted: String, placeholder: String, jsonType: SettingJSONType,
        read: @escaping @Sendable (String) -> Result<Value, ValueProblem>,
        show: @escaping @Sendable (Value) -> String
    ) {
        self.accepted = accepted
        self.placeholder = placeholder
        self.jsonType = jsonType
        self.read = read
        self.show = show
    }
}

extension SettingFormat where Value: FixedWidthInteger {
    /// A count, size or port read with the number grammar; `range` bounds
    /// it, so the conversion to `Value` cannot trap.
    public static func integer(_ range: NumberRange, placeholder: String) -> SettingFormat {
        precondition(range.kind == .integer && range.maximum <= Double(Value.max), "range must fit the type")
        return SettingFormat(
            accepted: range.accepted, placeholder: placeholder, jsonType: .number,
            read: { text in range.read(text).map { Value($0) } },
            show: { String($0) })
    }
}

extension SettingFormat where Value == Double {
    /// Seconds or a rate, read with the number grammar.
    public static func decimal(_ range: NumberRange, placeholder: String) -> SettingFormat {
        SettingFormat(
            accepted: range.accepted, placeholder: placeholder, jsonType: .number,
            read: { range.read($0) }, show: { NumberRange.format($0) })
    }
}

extension SettingFormat where Value == PortOrOff {
    /// A port, or `off` for a listener that is not opened. A number in
    /// config.json, `off` only as a flag or variable (its default).
    public static func portOrOff(_ range: NumberRange) -> SettingFormat {
        SettingFormat(
            accepted: "off or " + range.accepted, placeholder: "port", jsonType: .number,
            read: { text in text == "off" ? .success(.off) : range.read(text).map { .port(UInt16($0)) } },
            show: { $0.port.map { String($0) } ?? "off" })
    }
}

extension SettingFormat where Value == ProxyTrustedNetworks {
    /// Comma-separated CIDR blocks (`--proxy-trusted`).
    public static var cidrList: SettingFormat {
        SettingFormat(
            accepted: "comma-separated CIDR blocks such as \(ProxyTrustedNetworks.defaultText)", placeholder: "cidrs",
            jsonType: .string,
            read: { text in
                do throws(CIDRParseError) {
                    return .success(try ProxyTrustedNetworks(parsing: text))
                } catch {
                    return .failure(.notAccepted)
                }
            },
            show: { $0.description })
    }
}

extension SettingFormat where Value: CaseIterable & RawRepresentable, Value.RawValue == String {
    /// One of a fixed set of words, case-sensitive: `auto, raw or framed`.
    public static func choice(placeholder: String) -> SettingFormat {
        let words = Value.allCases.map(\.rawValue)
        let accepted =
            words.count > 1 ? words.dropLast().joined(separator: ", ") + " or " + words[words.count - 1] : words[0]
        return SettingFormat(
            accepted: accepted, placeholder: placeholder, jsonType: .string,
            read: { Value(rawValue: $0).map { .success($0) } ?? .failure(.notAccepted) },
            show: { $0.rawValue })
    }
}

extension SettingFormat where Value == String {
    /// Any text at all (a message to send).
    public static var text: SettingFormat {
        SettingFormat(
            accepted: "any text", placeholder: "text", jsonType: .string, read: { .success($0) }, show: { $0 })
    }

    /// A host name or address. Resolving it is the server's or client's
    /// job; here only what can never be one is rejected.
    public static var host: SettingFormat {
        SettingFormat(
            accepted: "an IP address or host name without spaces", placeholder: "host", jsonType: .string,
            read: { text in
                let printable = text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
                return !text.isEmpty && text.utf8.count <= 253 && printable ? .success(text) : .failure(.notAccepted)
            },
            show: { $0 })
    }
}

/// The JSON type a config.json entry must have: `"workers": "2"` and
/// `"host": 5` are errors, not conversions.
public enum SettingJSONType: String, Sendable, Equatable {
    case number
    case string
}

/// The accepted values of one numeric setting, and the one number grammar
/// every command, environment variable and config.json entry is read with
/// (docs/configuration.md, "Numbers").
///
/// Grammar: an optional `-`, then digits with an optional fraction (`5`,
/// `0.5`, `.5`, `5.`), then an optional exponent (`1e3`, `2.5E-3`). No `+`,
/// no spaces, no `_`, no hex, no `inf` or `nan`. An integer setting takes
/// digits only. A negative number is read as a number and then rejected as
/// out of range, so `--messages -1` reports the range instead of a missing
/// value. A value too large for a Double, or one whose digits are not all
/// zero but that reads as 0 (`1e-400`), is out of range: nothing changes its
/// meaning silently.
public struct NumberRange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Decimal digits only.
        case integer
        /// The whole grammar: fraction and exponent allowed.
        case decimal
    }

    public let kind: Kind
    /// The word that follows "expected " in a message: `seconds`, `bytes`, `port`.
    public let unit: String
    public let minimum: Double
    public let maximum: Double
    /// When set, 0 is accepted below `minimum` and means this (`none`).
    public let zeroMeans: String?

    public init(_ kind: Kind, unit: String, minimum: Double, maximum: Double, zeroMeans: String? = nil) {
        precondition(minimum >= 0 && minimum <= maximum, "ranges are non-negative and ordered")
        // Integer bounds must be exact in a Double for the comparisons below.
        precondition(kind == .decimal || (maximum <= 9_007_199_254_740_992 && minimum == minimum.rounded()))
        self.kind = kind
        self.unit = unit
        self.minimum = minimum
        self.maximum = maximum
        self.zeroMeans = zeroMeans
    }

    public static func integer(_ unit: String, _ bounds: ClosedRange<Int64>) -> NumberRange {
        NumberRange(.integer, unit: unit, minimum: Double(bounds.lowerBound), maximum: Double(bounds.upperBound))
    }

    /// What is accepted, worded to follow "expected ": `seconds 0 (none) or 0.001-604800`.
    public var accepted: String {
        let span = "\(unit) \(NumberRange.format(minimum))-\(NumberRange.format(maximum))"
        guard let zeroMeans else { return span }
        return "\(unit) 0 (\(zeroMeans)) or \(NumberRange.format(minimum))-\(NumberRange.format(maximum))"
    }

    /// Reads `text` with the grammar and checks it against the range.
    public func read(_ text: String) -> Result<Double, ValueProblem> {
        guard let number = NumberText(text) else { return .failure(.notANumber) }
        if kind == .integer && !number.isPlainInteger { return .failure(.notAnInteger) }
        if number.isNegative { return .failure(.outOfRange) }
        let value: Double
        switch kind {
        case .integer:
            // Digits only: exact as long as it stays below the largest bound.
            guard let integer = UInt64(number.digits), Double(integer) <= maximum else {
                return .failure(.outOfRange)
            }
            value = Double(integer)
        case .decimal:
            guard let parsed = Double(text), parsed.isFinite else { return .failure(.outOfRange) }
            // Digits that are not all zero but read as 0 underflowed.
            if parsed == 0 && number.hasNonZeroDigit { return .failure(.outOfRange) }
            value = parsed
        }
        return contains(value) ? .success(value) : .failure(.outOfRange)
    }

    /// Whether a value (from a flag, or set in code) is accepted.
    public func contains(_ value: Double) -> Bool {
        if value == 0 && zeroMeans != nil { return true }
        guard value.isFinite, value >= minimum, value <= maximum else { return false }
        return kind == .decimal || value == value.rounded()
    }

    /// Checks a value set in code: the usage error a command line would give.
    public func check(_ value: Double, _ name: String) throws(TrustError) {
        if !contains(value) {
            throw .usage("\(name): \(NumberRange.format(value)) is out of range: expected \(accepted)")
        }
    }

    public func check(_ value: Int, _ name: String) throws(TrustError) {
        try check(Double(value), name)
    }

    /// `300`, not `300.0`; `0.5` stays `0.5`; integers print without exponent.
    public static func format(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// Why a value's text was not accepted; the phrase follows the quoted text.
public enum ValueProblem: Error, Sendable, Equatable {
    case notANumber
    case notAnInteger
    case outOfRange
    /// Not one of the words or forms the setting takes.
    case notAccepted

    public var phrase: String {
        switch self {
        case .notANumber: return "is not a number"
        case .notAnInteger: return "is not an integer"
        case .outOfRange: return "is out of range"
        case .notAccepted: return "is not accepted"
        }
    }

    /// `--timeout: '1e400' is out of range: expected seconds 0-604800`;
    /// the text is quoted as given, with control characters made visible so
    /// the message stays one line.
    public func message(source: String, text: String, accepted: String) -> String {
        "\(source): '\(ValueProblem.visible(text))' \(phrase): expected \(accepted)"
    }

    /// `text` with control characters escaped (`\n`, `\u{1B}`) and cut after
    /// 200 characters: a message quotes what was typed, on one line.
    public static func visible(_ text: String) -> String {
        var shown = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == 200 { return shown + "..." }
            switch scalar {
            case "\n": shown += "\\n"
            case "\r": shown += "\\r"
            case "\t": shown += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.properties.generalCategory == .lineSeparator
                    || scalar.properties.generalCategory == .paragraphSeparator
                {
                    shown += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                } else {
                    shown.unicodeScalars.append(scalar)
                }
            }
        }
        return shown
    }
}

/// The grammar's reading of one text, before any range: sign, digits, and
/// whether it has a fraction or an exponent.
struct NumberText {
    let isNegative: Bool
    /// The digits before any `.` or exponent (for integers).
    let digits: Substring
    let isPlainInteger: Bool
    let hasNonZeroDigit: Bool

    /// nil when `text` is not a number of the grammar.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        var index = 0
        func isDigit(_ at: Int) -> Bool { at < bytes.count && bytes[at] >= 0x30 && bytes[at] <= 0x39 }
        let negative = !bytes.isEmpty && bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        let integerStart = index
        var nonZero = false
        while isDigit(index) {
            if bytes[index] != 0x30 { nonZero = true }
            index += 1
        }
        let integerEnd = index
        var fractionDigits = 0
        var hasPoint = false
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            hasPoint = true
            index += 1
            while isDigit(index) {
                if bytes[index] != 0x30 { nonZero = true }
                index += 1
                fractionDigits += 1
            }
        }
        guard integerEnd > integerStart || fractionDigits > 0 else { return nil }
        var hasExponent = false
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            hasExponent = true
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard isDigit(index) else { return nil }
            while isDigit(index) { index += 1 }
        }
        guard index == bytes.count else { return nil }
        isNegative = negative
        let utf8 = text.utf8
        digits = Substring(
            text[
                utf8.index(utf8.startIndex, offsetBy: integerStart)..<utf8.index(utf8.startIndex, offsetBy: integerEnd)]
        )
        isPlainInteger = !hasPoint && !hasExponent
        hasNonZeroDigit = nonZero
    }
}

import Logging

/// Turns the text of one setting, whatever layer it came from, into its typed
/// value. Every layer goes through the same parser, so a value means the same
/// thing as a flag, an environment variable or a `config.json` entry.
/// Each function returns nil when the text is not acceptable; the caller
/// words the error, because only it knows the origin.
enum SettingValueParser {
    static func port(_ text: String) -> UInt16? {
        unsignedInteger(text, maximum: UInt64(UInt16.max)).map { UInt16($0) }
    }

    static func host(_ text: String) -> String? {
        // The server resolves the address; here only reject what can never be one.
        guard !text.isEmpty, text.utf8.count <= 253 else { return nil }
        let isPrintableWithoutSpace = text.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0.value < 0x7F
        }
        return isPrintableWithoutSpace ? text : nil
    }

    static func mode(_ text: String) -> EchoMode? { EchoMode(rawValue: text) }

    static func seconds(_ text: String) -> Double? {
        // Plain decimal notation only: Double(_:) alone would also take
        // "nan", "inf", "0x1p3" and "1e3", which nobody means as a timeout.
        var dots = 0
        var digits = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."): dots += 1
            default: return nil
            }
        }
        guard digits > 0, dots <= 1, text.utf8.count <= 32, let value = Double(text) else { return nil }
        guard value.isFinite, value >= 0, value <= Double(EchoSetting.maximumSeconds) else {
            return nil
        }
        return value
    }

    static func maxFrame(_ text: String) -> UInt32? {
        unsignedInteger(text, maximum: UInt64(UInt32.max)).map { UInt32($0) }
    }

    static func maxClients(_ text: String) -> Int? {
        guard let value = unsignedInteger(text, maximum: UInt64(EchoSetting.maximumClients)), value >= 1
        else {
            return nil
        }
        return Int(value)
    }

    static func workers(_ text: String) -> Int? {
        guard let value = unsignedInteger(text, maximum: UInt64(EchoSetting.maximumWorkers)), value >= 1
        else {
            return nil
        }
        return Int(value)
    }

    static func logLevel(_ text: String) -> Logger.Level? { Logger.Level(rawValue: text) }

    /// Decimal digits only (no sign, no spaces), at most `maximum`.
    static func unsignedInteger(_ text: String, maximum: UInt64) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= 20,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = UInt64(text), value <= maximum
        else { return nil }
        return value
    }

    /// Whether `text` is an acceptable value for `setting`.
    static func accepts(_ text: String, for setting: EchoSetting) -> Bool {
        switch setting {
        case .port: return port(text) != nil
        case .host: return host(text) != nil
        case .mode: return mode(text) != nil
        case .timeout, .drainTimeout: return seconds(text) != nil
        case .maxFrame: return maxFrame(text) != nil
        case .maxClients: return maxClients(text) != nil
        case .workers: return workers(text) != nil
        case .logLevel: return logLevel(text) != nil
        }
    }
}

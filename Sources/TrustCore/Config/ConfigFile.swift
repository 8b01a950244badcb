import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `$TRUST_HOME/config.json`: one flat JSON object keyed by setting name,
/// e.g. `{"port": 9900, "mode": "raw", "max-frame": 65536}` (SPEC §4).
///
/// Values are kept as text so every layer goes through the same parser;
/// a JSON number is taken as written (`7`, `0.5`), a JSON string as its
/// contents, so `"port": "9900"` works too. A missing file is an empty layer.
/// Any problem (unreadable, not JSON, not an object, unknown key, a value
/// that is not a number or string) is a config error naming the file.
struct ConfigFile {
    /// A file bigger than this is not a hand-written config of nine settings.
    static let maximumSize = 1 << 20

    let path: String
    let values: [EchoSetting: String]

    /// Reads and checks the file; nil values (empty layer) when it does not exist.
    static func load(path: String) throws(TrustError) -> ConfigFile {
        guard let data = try readIfPresent(path: path) else {
            return ConfigFile(path: path, values: [:])
        }
        return ConfigFile(path: path, values: try parse(data, path: path))
    }

    static func parse(_ data: Data, path: String) throws(TrustError) -> [EchoSetting: String] {
        // JSONSerialization first: its errors say where the syntax breaks,
        // which JSONDecoder's do not.
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            let detail =
                (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "not valid JSON"
            throw .config("malformed config file \(path): \(oneLine(detail))")
        }
        guard object is [String: Any] else {
            throw .config(
                "malformed config file \(path): expected one JSON object of settings, like {\"port\": 9900}"
            )
        }
        let scalars: [String: JSONScalar]
        do {
            scalars = try JSONDecoder().decode([String: JSONScalar].self, from: data)
        } catch {
            throw .config("malformed config file \(path): \(oneLine(String(describing: error)))")
        }
        var values: [EchoSetting: String] = [:]
        for key in scalars.keys.sorted() {
            guard let setting = EchoSetting(rawValue: key) else {
                let known = EchoSetting.allCases.map(\.name).joined(separator: ", ")
                throw .config("unknown key '\(key)' in config file \(path): expected one of \(known)")
            }
            guard let scalar = scalars[key] else { continue }
            switch scalar {
            case .text(let text):
                values[setting] = text
            case .notNumberOrString(let shown):
                throw .config(
                    "invalid value \(shown) for \(setting.name) (from file \(path)): expected \(setting.acceptedValues)"
                )
            }
        }
        return values
    }

    /// The file's bytes, or nil if there is no file.
    private static func readIfPresent(path: String) throws(TrustError) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let error = Errno(rawValue: errno)
            if error.rawValue == ENOENT { return nil }
            throw .config("cannot read config file \(path): \(error.description)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        // Bounded: stops at end of file, on an error, or past maximumSize.
        while bytes.count <= maximumSize {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 {
                let error = Errno(rawValue: errno)
                if error == .interrupted { continue }
                throw .config("cannot read config file \(path): \(error.description)")
            }
            if count == 0 { return Data(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
        }
        throw .config("malformed config file \(path): larger than \(maximumSize) bytes")
    }

    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// One value of the flat config object.
private enum JSONScalar: Decodable {
    /// A string's contents or a number's text.
    case text(String)
    /// true, false, null, an array or an object: shown as such in the error.
    case notNumberOrString(String)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .notNumberOrString("null")
        } else if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let flag = try? container.decode(Bool.self) {
            self = .notNumberOrString(flag ? "true" : "false")
        } else if let integer = try? container.decode(Int64.self) {
            self = .text(String(integer))
        } else if let number = try? container.decode(Double.self) {
            self = .text(String(number))
        } else {
            self = .notNumberOrString("(an array or object)")
        }
    }
}

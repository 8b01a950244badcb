/// A file a setting may name, or none (`--tls-cert`). Not an
/// `Optional<String>`: settings are stored as existentials, and a boxed nil
/// would be read back ambiguously (as `PortOrOff`).
public enum OptionalFile: Sendable, Equatable {
    case none
    case path(String)

    public var path: String? {
        if case .path(let path) = self { return path }
        return nil
    }
}

extension SettingFormat where Value == OptionalFile {
    /// A file path: any non-empty text without a NUL byte. Whether the file
    /// can be read is checked when the server starts (78 naming it).
    public static var file: SettingFormat {
        SettingFormat(
            accepted: "a file path", placeholder: "file", jsonType: .string,
            read: { text in
                !text.isEmpty && !text.utf8.contains(0) ? .success(.path(text)) : .failure(.notAccepted)
            },
            show: { $0.path ?? "none" })
    }
}

// libFuzzer target for the strict config.json reader. Not a SwiftPM target:
// `make fuzz-config` compiles it with swiftc together with
// Sources/TrustCore/Config/StrictJSON.swift (which imports nothing).
// Properties: no input crashes or recurses without bound; a failure points
// inside the input; whatever is accepted has unique keys, and reading it
// again after a byte-for-byte round trip of its scalars gives the same members.

/// Traps with `message` when `condition` is false (see FramingFuzz.swift).
func check(_ condition: Bool, _ message: @autoclosure () -> String = "config JSON property violated") {
    if !condition { fatalError(message()) }
}

/// A flat object written back from accepted members, scalars only.
func rewritten(_ members: [StrictJSON.Member]) -> [UInt8] {
    var text = "{"
    for (index, member) in members.enumerated() {
        if index > 0 { text += "," }
        text += quoted(member.key) + ":"
        switch member.value {
        case .string(let value): text += quoted(value)
        case .number(let value): text += value
        case .bool(let flag): text += flag ? "true" : "false"
        case .null: text += "null"
        case .array: text += "[]"
        case .object: text += "{}"
        }
    }
    return Array((text + "}").utf8)
}

/// A JSON string for `text`: every scalar below U+0020, `"` and `\` escaped.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        default:
            if scalar.value < 0x20 {
                let digits = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

@_cdecl("LLVMFuzzerTestOneInput")
public func configJSONFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch StrictJSON.parseObject(bytes) {
    case .failure(let failure):
        check(failure.line >= 1 && failure.column >= 1, "failure position \(failure.line):\(failure.column)")
        check(failure.column <= bytes.count + 1, "column past the input")
    case .success(let members):
        check(Set(members.map(\.key)).count == members.count, "duplicate keys accepted")
        guard case .success(let again) = StrictJSON.parseObject(rewritten(members)) else {
            fatalError("accepted members do not read back")
        }
        check(again == members, "members changed on a round trip")
    }
    return 0
}

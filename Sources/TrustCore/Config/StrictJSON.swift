// Pure Swift, no imports: `make fuzz-config` builds this file alone with
// Fuzz/ConfigJSONFuzz.swift.

/// A strict reader of one flat JSON object (ECMA-404 / RFC 8259), for
/// config.json. Stricter than Foundation's JSONSerialization, which takes
/// duplicate keys (the last wins), a byte-order mark and some non-JSON
/// numbers: here each of those is an error with its line and column.
/// Nested arrays and objects are read (to report them as the wrong type)
/// but not kept.
enum StrictJSON {
    /// A member's value: scalars are kept as written.
    enum Value: Equatable {
        case string(String)
        /// The number's text exactly as written (`1e3`, `-0.5`).
        case number(String)
        case bool(Bool)
        case null
        case array
        case object

        /// How an error names a value of the wrong type.
        var kind: String {
            switch self {
            case .string: return "a string"
            case .number: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }

    struct Member: Equatable {
        let key: String
        let value: Value
    }

    struct Failure: Error, Equatable {
        /// 1-based; the column counts bytes.
        let line: Int
        let column: Int
        let problem: String
        /// The key a `duplicate key` failure is about, for the caller to quote.
        var key: String? = nil
    }

    /// Nesting deeper than this inside a value is refused (bounded recursion).
    static let maximumDepth = 64

    /// The members of the one top-level object, in order.
    static func parseObject(_ bytes: [UInt8]) -> Result<[Member], Failure> {
        var reader = Reader(bytes: bytes)
        do {
            return .success(try reader.document())
        } catch {
            return .failure(error)
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(Failure) -> [Member] {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                throw fail("starts with a UTF-8 byte-order mark, which JSON text must not have")
            }
            skipSpace()
            guard peek == UInt8(ascii: "{") else {
                throw fail(
                    index == bytes.count
                        ? "empty file: expected one JSON object of settings, like {\"port\": 9900}"
                        : "expected one JSON object of settings, like {\"port\": 9900}")
            }
            let members = try object(depth: 0, keeping: true)
            skipSpace()
            if index < bytes.count { throw fail("unexpected \(shown) after the object") }
            return members
        }

        /// Reads `{ ... }` starting at `{`; keeps the members only at the top.
        private mutating func object(depth: Int, keeping: Bool) throws(Failure) -> [Member] {
            index += 1
            var members: [Member] = []
            var seen = Set<String>()
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return members
            }
            while true {
                skipSpace()
                if peek == UInt8(ascii: "}") { throw fail("trailing comma before '}'") }
                guard peek == UInt8(ascii: "\"") else { throw fail("expected a key in double quotes, found \(shown)") }
                let keyStart = index
                let key = try string()
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw fail("expected ':' after the key, found \(shown)") }
                index += 1
                skipSpace()
                let member = try value(depth: depth + 1)
                if !seen.insert(key).inserted {
                    index = keyStart
                    var failure = fail("duplicate key")
                    failure.key = key
                    throw failure
                }
                if keeping { members.append(Member(key: key, value: member)) }
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return members
                default: throw fail("expected ',' or '}', found \(shown)")
                }
            }
        }

        private mutating func array(depth: Int) throws(Failure) {
            index += 1
            skipSpace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipSpace()
                if peek == UInt8(ascii: "]") { throw fail("trailing comma before ']'") }
                _ = try value(depth: depth + 1)
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return
                default: throw fail("expected ',' or ']', found \(shown)")
                }
            }
        }

        private mutating func value(depth: Int) throws(Failure) -> Value {
            if depth > StrictJSON.maximumDepth { throw fail("nested more than \(StrictJSON.maximumDepth) deep") }
            guard let byte = peek else { throw fail("unexpected end of file, expected a value") }
            switch byte {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "{"):
                _ = try object(depth: depth, keeping: false)
                return .object
            case UInt8(ascii: "["):
                try array(depth: depth)
                return .array
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            case UInt8(ascii: "N"), UInt8(ascii: "I"):
                throw fail("NaN and Infinity are not JSON numbers")
            default: throw fail("expected a value, found \(shown)")
            }
        }

        private mutating func literal(_ word: StaticString, _ result: Value) throws(Failure) -> Value {
            let expected = word.withUTF8Buffer { Array($0) }
            guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected
            else { throw fail("expected a value, found \(shown)") }
            index += expected.count
            return result
        }

        /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as written.
        private mutating func number() throws(Failure) -> String {
            let start = index
            if peek == UInt8(ascii: "-") { index += 1 }
            if peek == UInt8(ascii: "0") {
                index += 1
                if let next = peek, isDigit(next) { throw fail("a number must not start with a leading zero") }
            } else if let next = peek, isDigit(next) {
                while let next = peek, isDigit(next) { index += 1 }
            } else {
                if peek == UInt8(ascii: "I") { throw fail("NaN and Infinity are not JSON numbers") }
                throw fail("expected a digit, found \(shown)")
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard let next = peek, isDigit(next) else { throw fail("expected a digit after '.', found \(shown)") }
                while let next = peek, isDigit(next) { index += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard let next = peek, isDigit(next) else {
                    throw fail("expected a digit in the exponent, found \(shown)")
                }
                while let next = peek, isDigit(next) { index += 1 }
            }
            // Only ASCII digits, signs, '.' and 'e' were consumed.
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A string starting at `"`: escapes decoded, UTF-8 checked.
        private mutating func string() throws(Failure) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            while true {
                guard let byte = peek else { throw fail("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    index += 1
                    scalars.append(try escape())
                case 0..<0x20:
                    throw fail("control character 0x\(String(byte, radix: 16)) in a string must be escaped")
                case 0..<0x80:
                    scalars.append(Unicode.Scalar(byte))
                    index += 1
                default:
                    scalars.append(try multiByteScalar())
                }
            }
        }

        private mutating func escape() throws(Failure) -> Unicode.Scalar {
            guard let byte = peek else { throw fail("unterminated string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let unit = try hex4()
                if (0xD800..<0xDC00).contains(unit) {
                    guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    else { throw fail("\\u escape of a lone high surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("\\u escape of a lone high surrogate") }
                    // A valid pair always forms a scalar in U+10000...U+10FFFF.
                    return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
                }
                guard let scalar = Unicode.Scalar(unit) else { throw fail("\\u escape of a lone low surrogate") }
                return scalar
            default:
                index -= 1
                throw fail("invalid escape '\\\(shown)' in a string")
            }
        }

        private mutating func hex4() throws(Failure) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = peek else { throw fail("unterminated \\u escape") }
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("expected 4 hex digits after \\u")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// One UTF-8 sequence of 2-4 bytes, checked as RFC 3629 defines it
        /// (no overlong forms, no surrogates, nothing above U+10FFFF).
        private mutating func multiByteScalar() throws(Failure) -> Unicode.Scalar {
            let lead = bytes[index]
            let count: Int
            var value: UInt32
            switch lead {
            case 0xC2...0xDF: (count, value) = (2, UInt32(lead & 0x1F))
            case 0xE0...0xEF: (count, value) = (3, UInt32(lead & 0x0F))
            case 0xF0...0xF4: (count, value) = (4, UInt32(lead & 0x07))
            default: throw fail("invalid UTF-8")
            }
            guard bytes.count - index >= count else { throw fail("invalid UTF-8") }
            for offset in 1..<count {
                let byte = bytes[index + offset]
                guard byte & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
                value = value << 6 | UInt32(byte & 0x3F)
            }
            let smallest: UInt32 = count == 2 ? 0x80 : count == 3 ? 0x800 : 0x10000
            guard value >= smallest, let scalar = Unicode.Scalar(value) else { throw fail("invalid UTF-8") }
            index += count
            return scalar
        }

        private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        /// The byte at the read position, as a message shows it.
        private var shown: String {
            guard let byte = peek else { return "end of file" }
            if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
            return "byte 0x\(String(byte, radix: 16))"
        }

        private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        /// JSON's four whitespace bytes only.
        private mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        private func fail(_ problem: String) -> Failure {
            var line = 1
            var lineStart = 0
            for position in 0..<min(index, bytes.count) where bytes[position] == 0x0A {
                line += 1
                lineStart = position + 1
            }
            return Failure(line: line, column: index - lineStart + 1, problem: problem)
        }
    }
}

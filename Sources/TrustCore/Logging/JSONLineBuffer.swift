import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Builds one JSON-lines log record by hand into a byte array.
///
/// Log handlers run on event-loop threads. JSONEncoder and JSONSerialization
/// box every value and go through Foundation; DateFormatter takes locks and
/// allocates. This type appends bytes to one growing array instead, so a
/// line costs one allocation (plus a merged metadata dictionary when a call
/// adds metadata).
struct JSONLineBuffer {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Opens the object and writes the fixed leading keys in their fixed
    /// order: `{"ts":..,"level":..,"event":..,"pid":..` (left open for more
    /// fields and `closeObject()`).
    mutating func appendLineHeader(
        timestamp: LogTimestamp, level: Logger.Level, event: String, pid: Int32
    ) {
        appendASCII("{\"ts\":\"")
        appendTimestamp(timestamp)
        appendASCII("\",\"level\":\"")
        appendASCII(Self.levelName(level))
        appendASCII("\",\"event\":")
        appendString(event)
        appendASCII(",\"pid\":")
        appendInteger(Int64(pid))
    }

    /// Appends `,"key":value` to the open top-level object.
    mutating func appendField(key: String, value: Logger.MetadataValue) {
        bytes.append(UInt8(ascii: ","))
        appendString(key)
        bytes.append(UInt8(ascii: ":"))
        appendMetadataValue(value)
    }

    mutating func closeObject() {
        bytes.append(UInt8(ascii: "}"))
    }

    static func levelName(_ level: Logger.Level) -> StaticString {
        switch level {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }

    // MARK: Values

    mutating func appendMetadataValue(_ value: Logger.MetadataValue) {
        switch value {
        case .string(let string):
            appendString(string)
        case .stringConvertible(let convertible):
            appendConvertible(convertible)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                appendMetadataValue(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            // Sorted so that the same record always reads the same way.
            for (key, element) in dictionary.sorted(by: { $0.key < $1.key }) {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                appendString(key)
                bytes.append(UInt8(ascii: ":"))
                appendMetadataValue(element)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Numbers and booleans stay numbers and booleans so that log tools can
    /// compare `duration_ms > 100` without parsing strings; anything else is
    /// its description as a JSON string.
    mutating func appendConvertible(_ value: any CustomStringConvertible & Sendable) {
        switch value {
        case let number as Int: appendInteger(Int64(number))
        case let number as Int64: appendInteger(number)
        case let number as UInt64: appendDecimal(number)
        case let number as UInt: appendDecimal(UInt64(number))
        case let number as Int32: appendInteger(Int64(number))
        case let number as UInt32: appendDecimal(UInt64(number))
        case let number as Int16: appendInteger(Int64(number))
        case let number as UInt16: appendDecimal(UInt64(number))
        case let number as Int8: appendInteger(Int64(number))
        case let number as UInt8: appendDecimal(UInt64(number))
        case let flag as Bool: appendASCII(flag ? "true" : "false")
        case let number as Double: appendFloatingPoint(number.isFinite, number.description)
        case let number as Float: appendFloatingPoint(number.isFinite, number.description)
        // Other integer types (Int128, custom ones): their description is
        // an optional minus sign and digits, which is a valid JSON number.
        case let number as any BinaryInteger: appendRawUTF8(number.description)
        default: appendString(value.description)
        }
    }

    /// Swift prints finite floating-point values as `1.5`, `1e-05`, `1e+20`,
    /// all valid JSON numbers. JSON has no NaN or infinity: those become the
    /// strings `"nan"`, `"inf"`, `"-inf"`.
    private mutating func appendFloatingPoint(_ isFinite: Bool, _ description: String) {
        if isFinite {
            appendRawUTF8(description)
        } else {
            appendString(description)
        }
    }

    mutating func appendInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    mutating func appendDecimal(_ value: UInt64) {
        var digitCount = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digitCount += 1
        }
        appendPadded(value, width: digitCount)
    }

    /// Appends `value` in decimal, left-padded with zeros to `width` digits
    /// (more digits if the value needs them).
    mutating func appendPadded(_ value: UInt64, width: Int) {
        var digitCount = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digitCount += 1
        }
        let count = max(width, digitCount)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        var remaining = value
        var index = start + count - 1
        while remaining > 0 {
            bytes[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
    }

    /// `2026-11-22T21:30:05.123Z`: RFC 3339, UTC, milliseconds.
    mutating func appendTimestamp(_ timestamp: LogTimestamp) {
        let civil = timestamp.civil
        appendPadded(UInt64(clamping: civil.year), width: 4)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(UInt64(civil.month), width: 2)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(UInt64(civil.day), width: 2)
        bytes.append(UInt8(ascii: "T"))
        appendPadded(UInt64(civil.hour), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(UInt64(civil.minute), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(UInt64(civil.second), width: 2)
        bytes.append(UInt8(ascii: "."))
        appendPadded(UInt64(civil.millisecond), width: 3)
        bytes.append(UInt8(ascii: "Z"))
    }

    // MARK: Strings

    mutating func appendASCII(_ text: StaticString) {
        appendStaticBytes(text)
    }

    /// Appends UTF-8 without quoting or escaping: only for text known to be
    /// valid JSON already (number descriptions).
    private mutating func appendRawUTF8(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends `text` as a quoted JSON string: `"` and `\` escaped, control
    /// characters as `\n`, `\t`, ... or `\u00XX`, all other UTF-8 copied as is
    /// (a Swift String is always valid UTF-8).
    mutating func appendString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var contiguous = text
        contiguous.withUTF8 { utf8 in appendEscaped(utf8) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies runs of bytes that need no escaping in bulk.
    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            appendRun(utf8, from: runStart, to: index)
            appendEscape(for: byte)
            index += 1
            runStart = index
        }
        appendRun(utf8, from: runStart, to: utf8.count)
    }

    /// Safe because callers pass `0 <= start <= end <= utf8.count`, and the
    /// buffer is only read during the `withUTF8` call that provided it.
    private mutating func appendRun(_ utf8: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) {
        if start < end {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<end]))
        }
    }

    /// Safe because a StaticString's storage is immutable and lives for the
    /// whole program; it is only read here.
    private mutating func appendStaticBytes(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private mutating func appendEscape(for byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): appendASCII("\\\"")
        case UInt8(ascii: "\\"): appendASCII("\\\\")
        case UInt8(ascii: "\n"): appendASCII("\\n")
        case UInt8(ascii: "\r"): appendASCII("\\r")
        case UInt8(ascii: "\t"): appendASCII("\\t")
        case 0x08: appendASCII("\\b")
        case 0x0C: appendASCII("\\f")
        default:
            appendASCII("\\u00")
            bytes.append(Self.hexDigit(byte >> 4))
            bytes.append(Self.hexDigit(byte & 0x0F))
        }
    }
}

/// Writes the Prometheus text exposition format, version 0.0.4: per family one `# HELP`
/// and one `# TYPE` line, then its samples. Escaping as the format defines it: in HELP text
/// backslash and line feed; in label values backslash, double quote and line feed.
public struct PrometheusTextWriter: Sendable {
    public enum MetricType: String, Sendable {
        case counter, gauge
    }

    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    /// Starts a family. `name` must be a valid metric name (our names are constants: a bad
    /// one is a bug, so it traps in tests rather than emitting text a scraper rejects).
    public mutating func family(_ name: String, type: MetricType, help: String) {
        precondition(Self.isValidMetricName(name), "invalid metric name \(name)")
        append("# HELP \(name) ")
        for byte in help.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            default: bytes.append(byte)
            }
        }
        append("\n# TYPE \(name) \(type.rawValue)\n")
    }

    /// One sample line: `name{label="value",...} value`.
    public mutating func sample(_ name: String, labels: [(name: String, value: String)] = [], value: UInt64) {
        sampleStart(name, labels: labels)
        append(String(value))
        bytes.append(UInt8(ascii: "\n"))
    }

    /// One sample line with a floating-point value (NaN and infinities in the format's words).
    public mutating func sample(_ name: String, labels: [(name: String, value: String)] = [], value: Double) {
        sampleStart(name, labels: labels)
        if value.isNaN {
            append("NaN")
        } else if value.isInfinite {
            append(value > 0 ? "+Inf" : "-Inf")
        } else {
            append(value.description)
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    private mutating func sampleStart(_ name: String, labels: [(name: String, value: String)]) {
        append(name)
        guard !labels.isEmpty else {
            bytes.append(UInt8(ascii: " "))
            return
        }
        bytes.append(UInt8(ascii: "{"))
        for (index, label) in labels.enumerated() {
            precondition(Self.isValidLabelName(label.name), "invalid label name \(label.name)")
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            append(label.name)
            append("=\"")
            for byte in label.value.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): append("\\\\")
                case UInt8(ascii: "\""): append("\\\"")
                case UInt8(ascii: "\n"): append("\\n")
                default: bytes.append(byte)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
        append("} ")
    }

    private mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ name: String) -> Bool {
        isValidName(name, allowingColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting with `__` (reserved by Prometheus).
    static func isValidLabelName(_ name: String) -> Bool {
        isValidName(name, allowingColon: false) && !name.hasPrefix("__")
    }

    private static func isValidName(_ name: String, allowingColon: Bool) -> Bool {
        guard !name.isEmpty else { return false }
        for (index, byte) in name.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: ":") where allowingColon:
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9") where index > 0:
                continue
            default:
                return false
            }
        }
        return true
    }
}

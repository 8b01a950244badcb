/// Incremental, bounded parser of one HTTP/1.0 or HTTP/1.1 request head, for the
/// operations endpoint (`/metrics`, `/healthz`, `/readyz`).
///
/// Bytes are read one at a time through the state, so any split of the same bytes gives the
/// same verdict. Each line is checked as soon as its CRLF arrives and a control byte is
/// rejected at once, so garbage is answered 400 without waiting for the limit. Decisions
/// (RFC 9112 where it gives a choice, strict everywhere):
/// - the head is at most `maxHeadLength` bytes (default 8 KiB), else 431;
/// - lines end in CRLF; a bare CR or LF, a control byte, obs-fold, whitespace before a
///   header's colon, a method or header name that is not a token: 400;
/// - request line `METHOD SP TARGET SP HTTP/x.y` with single spaces; origin-form targets and
///   absolute-form `http://host/path`; HTTP/1.0 and 1.1, another `HTTP/d.d` is 505;
/// - HTTP/1.1 needs exactly one Host header, HTTP/1.0 at most one: else 400;
/// - empty lines before the request line are skipped (RFC 9112 §2.2);
/// - a valid method other than GET or HEAD parses, and the responder answers 405, only once
///   the whole head has arrived (so the close does not reset unread request bytes).
/// The body, if any, is never read: every response closes the connection.
public struct HTTPRequestParser: Sendable {
    public static let defaultMaxHeadLength = 8192

    public let maxHeadLength: Int

    private var line: [UInt8] = []
    private var seen = 0
    private var requestLineDone = false
    private var method = HTTPRequestMethod.other
    private var route = OpsRoute.notFound
    private var version: HTTPVersion? = nil
    private var hostCount = 0
    private var verdict: HTTPRequestParseResult? = nil

    public init(maxHeadLength: Int = defaultMaxHeadLength) {
        self.maxHeadLength = maxHeadLength
        line.reserveCapacity(128)
    }

    /// Parses the next received bytes.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer) -> HTTPRequestParseResult {
        // Raw socket bytes are plain bytes: viewing them as UInt8 is always valid.
        parse(chunk.assumingMemoryBound(to: UInt8.self).span)
    }

    /// Parses the next received bytes. After a verdict, returns it again (`consumed: 0`).
    public mutating func parse(_ bytes: Span<UInt8>) -> HTTPRequestParseResult {
        if let verdict {
            if case .done(let head, _) = verdict { return .done(head, consumed: 0) }
            return verdict
        }
        for index in bytes.indices {
            let byte = bytes[index]
            seen += 1
            if seen > maxHeadLength { return finish(.reject(.requestHeaderFieldsTooLarge)) }
            let afterCR = line.last == 0x0D
            if byte == 0x0A {
                guard afterCR else { return finish(.reject(.badRequest)) }
                line.removeLast()
                if let result = endOfLine() {
                    if case .done(let head, _) = result { return finish(.done(head, consumed: index + 1)) }
                    return finish(result)
                }
                line.removeAll(keepingCapacity: true)
                continue
            }
            guard !afterCR, byte == 0x09 || byte == 0x0D || (byte >= 0x20 && byte != 0x7F) else {
                return finish(.reject(.badRequest))
            }
            line.append(byte)
        }
        return .needMore
    }

    private mutating func finish(_ result: HTTPRequestParseResult) -> HTTPRequestParseResult {
        verdict = result
        return result
    }

    /// Handles one complete line (without its CRLF); returns a verdict or nil to go on.
    private mutating func endOfLine() -> HTTPRequestParseResult? {
        if !requestLineDone {
            if line.isEmpty { return nil }
            requestLineDone = true
            return readRequestLine() ? nil : .reject(.badRequest)
        }
        if line.isEmpty { return endOfHead() }
        return readHeaderLine() ? nil : .reject(.badRequest)
    }

    private mutating func endOfHead() -> HTTPRequestParseResult {
        guard let version else { return .reject(.httpVersionNotSupported) }
        guard hostCount <= 1, version == .http10 || hostCount == 1 else { return .reject(.badRequest) }
        return .done(HTTPRequestHead(method: method, route: route, version: version, length: seen), consumed: 0)
    }

    // MARK: request line

    private mutating func readRequestLine() -> Bool {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(Self.isTokenByte) else { return false }
        let target = parts[1]
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return false }
        guard let path = Self.path(of: target) else { return false }

        let versionText = parts[2]
        guard versionText.count == 8, versionText.starts(with: Array("HTTP/".utf8)),
            Self.isDigit(versionText[versionText.startIndex + 5]),
            versionText[versionText.startIndex + 6] == UInt8(ascii: "."),
            Self.isDigit(versionText[versionText.startIndex + 7])
        else { return false }
        version = HTTPVersion(rawValue: String(decoding: versionText, as: UTF8.self))

        switch String(decoding: parts[0], as: UTF8.self) {
        case "GET": method = .get
        case "HEAD": method = .head
        default: method = .other
        }
        route = OpsRoute(rawValue: String(decoding: path, as: UTF8.self)) ?? .notFound
        return true
    }

    /// The path of a request target, without its query; empty for the asterisk form (`*`,
    /// which no route serves); nil when the target is malformed.
    private static func path(of target: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var rest = target
        if target.elementsEqual("*".utf8) { return [] }
        if rest.first != UInt8(ascii: "/") {
            // absolute-form: scheme "://" authority [path]
            let lowered = rest.prefix(8).map { $0 | 0x20 }
            let skip: Int
            if lowered.starts(with: Array("http://".utf8)) {
                skip = 7
            } else if lowered.starts(with: Array("https://".utf8)) {
                skip = 8
            } else {
                return nil
            }
            rest = rest.dropFirst(skip)
            guard let slash = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else {
                return rest.isEmpty ? nil : Array("/".utf8)[...]
            }
            guard slash > rest.startIndex else { return nil }
            rest = rest[slash...]
            if rest.first == UInt8(ascii: "?") { return Array("/".utf8)[...] }
        }
        guard !rest.contains(UInt8(ascii: "#")) else { return nil }
        if let query = rest.firstIndex(of: UInt8(ascii: "?")) { rest = rest[..<query] }
        return rest
    }

    // MARK: header lines

    private mutating func readHeaderLine() -> Bool {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
        let name = line[..<colon]
        guard name.allSatisfy(Self.isTokenByte) else { return false }
        // The value needs no check here: control bytes and stray CRs were refused per byte.
        if name.count == 4, name.map({ $0 | 0x20 }).elementsEqual("host".utf8) { hostCount += 1 }
        return true
    }

    /// RFC 9110 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

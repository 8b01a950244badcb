/// What the operations endpoint needs from a request: the method, where it goes, and the
/// version. Headers are checked for syntax and a single Host, then dropped.
public struct HTTPRequestHead: Sendable, Hashable {
    public var method: HTTPRequestMethod
    public var route: OpsRoute
    public var version: HTTPVersion
    /// Bytes of the request head on the wire, up to and including the empty line.
    public var length: Int

    public init(method: HTTPRequestMethod, route: OpsRoute, version: HTTPVersion, length: Int) {
        self.method = method
        self.route = route
        self.version = version
        self.length = length
    }
}

/// The methods the endpoint serves; any other valid method is answered 405.
public enum HTTPRequestMethod: Sendable, Hashable {
    case get
    /// GET without the body, as RFC 9110 requires of every GET resource.
    case head
    case other
}

/// The paths the endpoint serves (the query string is ignored); anything else is 404.
public enum OpsRoute: String, Sendable, Hashable, CaseIterable {
    case metrics = "/metrics"
    case healthz = "/healthz"
    case readyz = "/readyz"
    case notFound = ""
}

public enum HTTPVersion: String, Sendable, Hashable {
    case http10 = "HTTP/1.0"
    case http11 = "HTTP/1.1"
}

/// The statuses the endpoint sends.
public enum HTTPStatus: Int, Sendable, Hashable {
    case ok = 200
    case badRequest = 400
    case notFound = 404
    case methodNotAllowed = 405
    case requestTimeout = 408
    case requestHeaderFieldsTooLarge = 431
    case serviceUnavailable = 503
    case httpVersionNotSupported = 505

    public var reasonPhrase: String {
        switch self {
        case .ok: return "OK"
        case .badRequest: return "Bad Request"
        case .notFound: return "Not Found"
        case .methodNotAllowed: return "Method Not Allowed"
        case .requestTimeout: return "Request Timeout"
        case .requestHeaderFieldsTooLarge: return "Request Header Fields Too Large"
        case .serviceUnavailable: return "Service Unavailable"
        case .httpVersionNotSupported: return "HTTP Version Not Supported"
        }
    }
}

/// What one `HTTPRequestParser.parse` call found.
public enum HTTPRequestParseResult: Sendable, Hashable {
    case needMore
    /// The head is complete; the first `consumed` bytes of this chunk were its end.
    case done(HTTPRequestHead, consumed: Int)
    /// Answer with this status (400, 431 or 505) and close.
    case reject(HTTPStatus)
}

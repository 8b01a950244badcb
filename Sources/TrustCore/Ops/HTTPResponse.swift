/// Serialises the operations endpoint's responses: always HTTP/1.1, `Connection: close`
/// (one request per connection keeps the endpoint's state and limits trivial), an exact
/// Content-Length, and a Date when the caller gives the time.
public enum HTTPResponse {
    /// One whole response. With `omitBody` (a HEAD request) the headers still describe the
    /// body a GET would get, as RFC 9110 §9.3.2 asks.
    public static func serialize(
        status: HTTPStatus, contentType: String?, body: [UInt8], omitBody: Bool = false,
        extraHeaders: [(name: String, value: String)] = [], unixTime: Int64? = nil
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status.rawValue) \(status.reasonPhrase)\r\n"
        if let unixTime { head += "Date: \(imfFixdate(unixTime: unixTime))\r\n" }
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        for header in extraHeaders { head += "\(header.name): \(header.value)\r\n" }
        head += "Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !omitBody { bytes += body }
        return bytes
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7) for seconds since the Unix epoch.
    public static func imfFixdate(unixTime: Int64) -> String {
        let days = unixTime >= 0 ? unixTime / 86_400 : (unixTime - 86_399) / 86_400
        let secondsOfDay = unixTime - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let time = "\(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60))"
        return "\(weekdays[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) \(time) GMT"
    }
}

/// What the operations endpoint answers: the routing of SPEC §13 in one place.
public enum OpsResponder {
    /// The Prometheus text exposition format, version 0.0.4.
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let plainTextContentType = "text/plain; charset=utf-8"

    /// The response to a parsed request. `isReady` is false from the moment a drain begins
    /// (`/readyz` answers 503); `metrics` renders the exposition text and is called only
    /// for `/metrics`.
    public static func response(
        to head: HTTPRequestHead, isReady: Bool, unixTime: Int64? = nil, metrics: () -> [UInt8]
    ) -> (status: HTTPStatus, bytes: [UInt8]) {
        guard head.method != .other else {
            let bytes = HTTPResponse.serialize(
                status: .methodNotAllowed, contentType: plainTextContentType, body: Array("method not allowed\n".utf8),
                extraHeaders: [("Allow", "GET, HEAD")], unixTime: unixTime)
            return (.methodNotAllowed, bytes)
        }
        let omitBody = head.method == .head
        let status: HTTPStatus
        let contentType: String
        let body: [UInt8]
        switch head.route {
        case .metrics:
            (status, contentType, body) = (.ok, prometheusContentType, metrics())
        case .healthz:
            (status, contentType, body) = (.ok, plainTextContentType, Array("ok\n".utf8))
        case .readyz:
            (status, contentType, body) =
                isReady
                ? (.ok, plainTextContentType, Array("ready\n".utf8))
                : (.serviceUnavailable, plainTextContentType, Array("draining\n".utf8))
        case .notFound:
            (status, contentType, body) = (.notFound, plainTextContentType, Array("not found\n".utf8))
        }
        let bytes = HTTPResponse.serialize(
            status: status, contentType: contentType, body: body, omitBody: omitBody, unixTime: unixTime)
        return (status, bytes)
    }

    /// The response to a rejected request (400, 408, 431, 505).
    public static func rejection(_ status: HTTPStatus, unixTime: Int64? = nil) -> [UInt8] {
        HTTPResponse.serialize(
            status: status, contentType: plainTextContentType,
            body: Array("\(status.reasonPhrase.lowercased())\n".utf8),
            unixTime: unixTime)
    }
}

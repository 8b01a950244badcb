import XCTest

@testable import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

final class OpsResponderTests: XCTestCase {
    private func head(_ method: HTTPRequestMethod, _ route: OpsRoute) -> HTTPRequestHead {
        HTTPRequestHead(method: method, route: route, version: .http11, length: 0)
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testMetricsResponseHasPrometheusContentTypeLengthAndClose() {
        let body = Array("# TYPE up gauge\nup 1\n".utf8)
        let (status, bytes) = OpsResponder.response(to: head(.get, .metrics), isReady: true, unixTime: 784_111_777) {
            body
        }
        XCTAssertEqual(status, .ok)
        XCTAssertEqual(
            text(bytes),
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 21\r\n"
                + "Connection: close\r\n\r\n# TYPE up gauge\nup 1\n")
    }

    func testHeadGetsTheHeadersOfGetWithoutTheBody() {
        let (_, get) = OpsResponder.response(to: head(.get, .healthz), isReady: true) { [] }
        let (_, headOnly) = OpsResponder.response(to: head(.head, .healthz), isReady: true) { [] }
        XCTAssertTrue(text(get).hasSuffix("\r\n\r\nok\n"))
        XCTAssertEqual(text(headOnly), String(text(get).dropLast(3)))
        XCTAssertTrue(text(headOnly).contains("Content-Length: 3\r\n"))
    }

    func testRoutingStatuses() {
        var metricsRendered = 0
        func status(_ method: HTTPRequestMethod, _ route: OpsRoute, ready: Bool = true) -> HTTPStatus {
            OpsResponder.response(to: head(method, route), isReady: ready) {
                metricsRendered += 1
                return []
            }.status
        }
        XCTAssertEqual(status(.get, .healthz), .ok)
        XCTAssertEqual(status(.get, .healthz, ready: false), .ok, "healthz stays 200 while draining")
        XCTAssertEqual(status(.get, .readyz), .ok)
        XCTAssertEqual(status(.get, .readyz, ready: false), .serviceUnavailable)
        XCTAssertEqual(status(.get, .notFound), .notFound)
        XCTAssertEqual(status(.other, .metrics), .methodNotAllowed)
        XCTAssertEqual(metricsRendered, 0, "metrics are rendered only for /metrics")
        XCTAssertEqual(status(.head, .metrics), .ok)
        XCTAssertEqual(metricsRendered, 1)
        let (_, notAllowed) = OpsResponder.response(to: head(.other, .healthz), isReady: true) { [] }
        XCTAssertTrue(text(notAllowed).contains("\r\nAllow: GET, HEAD\r\n"))
        XCTAssertTrue(text(OpsResponder.rejection(.badRequest)).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        XCTAssertTrue(text(OpsResponder.rejection(.requestHeaderFieldsTooLarge)).contains("Connection: close"))
    }

    func testDateMatchesGmtimeAndStrftime() {
        var rng = SplitMix64(seed: 0xDA7E)
        let samples: [Int64] = [0, 86_399, 86_400, 951_782_400, 4_107_542_400, 253_402_300_799]
        for unixTime in samples + (0..<500).map({ _ in Int64.random(in: 0...4_102_444_800, using: &rng) }) {
            var seconds = time_t(unixTime)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            let expected = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            XCTAssertEqual(HTTPResponse.imfFixdate(unixTime: unixTime), expected, "\(unixTime)")
        }
    }

    /// Python's http.client, a real HTTP/1.1 client parser, reads each response.
    func testPythonHTTPClientReadsTheResponses() throws {
        let (_, metrics) = OpsResponder.response(to: head(.get, .metrics), isReady: true, unixTime: 1_700_000_000) {
            Array("up 1\n".utf8)
        }
        let (_, draining) = OpsResponder.response(to: head(.get, .readyz), isReady: false) { [] }
        let script = """
            import http.client, io, sys
            class Sock:
                def __init__(self, data): self.data = data
                def makefile(self, mode): return io.BytesIO(self.data)
            for name in sys.argv[1:]:
                response = http.client.HTTPResponse(Sock(open(name, 'rb').read()))
                response.begin()
                body = response.read()
                print(response.status, response.getheader('Content-Type'), response.getheader('Connection'),
                      response.will_close, len(body), repr(body))
            """
        let output = try PythonRunner.run(script: script, files: [metrics, draining])
        XCTAssertEqual(
            output,
            "200 text/plain; version=0.0.4; charset=utf-8 close True 5 b'up 1\\n'\n"
                + "503 text/plain; charset=utf-8 close True 9 b'draining\\n'\n")
    }
}

import XCTest

@testable import TrustCore

final class OpsHTTPRequestParserTests: XCTestCase {
    /// Parses `stream` in the given chunk sizes, stopping at the first verdict; the `done`
    /// consumed count is turned into the head's offset in the stream.
    private func parse(_ stream: [UInt8], chunkSizes: [Int], maxHeadLength: Int = 8192) -> HTTPRequestParseResult {
        var parser = HTTPRequestParser(maxHeadLength: maxHeadLength)
        for (offset, chunk) in chunks(of: stream, sizes: chunkSizes) {
            let result = parser.parse(chunk.span)
            switch result {
            case .needMore:
                break
            case .done(let head, let consumed):
                XCTAssertEqual(head.length, offset + consumed)
                XCTAssertEqual(parser.parse([0x41].span), .done(head, consumed: 0), "the verdict sticks")
                return .done(head, consumed: head.length)
            case .reject(let status):
                XCTAssertEqual(parser.parse([0x41].span), .reject(status), "the verdict sticks")
                return result
            }
        }
        return .needMore
    }

    @discardableResult
    private func assertEverySplitAgrees(_ text: String, file: StaticString = #filePath, line: UInt = #line)
        -> HTTPRequestParseResult
    {
        let stream = Array(text.utf8)
        let whole = parse(stream, chunkSizes: [stream.count])
        for cut in 0...stream.count {
            XCTAssertEqual(
                parse(stream, chunkSizes: [cut, stream.count - cut]), whole, "cut \(cut): \(text.debugDescription)",
                file: file, line: line)
        }
        XCTAssertEqual(
            parse(stream, chunkSizes: Array(repeating: 1, count: stream.count)), whole, "bytewise", file: file,
            line: line)
        return whole
    }

    func testRoutesAndMethodsOfWellFormedRequests() {
        let cases: [(String, HTTPRequestMethod, OpsRoute, HTTPVersion)] = [
            ("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/plain\r\n\r\n", .get, .metrics, .http11),
            ("GET /healthz HTTP/1.0\r\n\r\n", .get, .healthz, .http10),
            ("HEAD /readyz HTTP/1.1\r\nhost: x\r\n\r\n", .head, .readyz, .http11),
            ("GET /metrics?name[]=up HTTP/1.1\r\nHOST: x\r\n\r\n", .get, .metrics, .http11),
            ("GET http://127.0.0.1:9100/metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n", .get, .metrics, .http11),
            ("GET HTTP://h/readyz?x HTTP/1.0\r\n\r\n", .get, .readyz, .http10),
            ("GET http://h HTTP/1.0\r\n\r\n", .get, .notFound, .http10),
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", .get, .notFound, .http11),
            ("GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n", .get, .notFound, .http11),
            ("GET /METRICS HTTP/1.1\r\nHost: x\r\n\r\n", .get, .notFound, .http11),
            ("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", .other, .metrics, .http11),
            ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", .other, .notFound, .http11),
            ("get /metrics HTTP/1.1\r\nHost: x\r\n\r\n", .other, .metrics, .http11),
            (
                "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Tab:\tv\t\r\nX-Utf8: caf\u{e9}\r\n\r\n",
                .get, .healthz, .http11
            ),
        ]
        for (text, method, route, version) in cases {
            let result = assertEverySplitAgrees(text + "BODY")
            XCTAssertEqual(
                result,
                .done(
                    HTTPRequestHead(method: method, route: route, version: version, length: text.utf8.count),
                    consumed: text.utf8.count),
                text.debugDescription)
        }
    }

    func testMalformedRequestsAre400() {
        let cases = [
            "GET /metrics HTTP/1.1\nHost: x\n\n",
            "GET /metrics HTTP/1.1\r\nHost: x\r\n\n",
            "GET /metrics HTTP/1.1\rHost: x\r\n\r\n",
            "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics  HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n",
            " GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics\r\n\r\n",
            "GET\r\n\r\n",
            "GET metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /met rics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics#top HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET ftp://h/metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET http:///metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GE(T /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics HTTP/1\r\nHost: x\r\n\r\n",
            "GET /metrics http/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics HTTP/1.10\r\nHost: x\r\n\r\n",
            "GET /metrics HTTP/a.1\r\nHost: x\r\n\r\n",
            "GET /metrics HTTP/1.1\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET /metrics HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{1}b\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{7f}\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHost: x\u{0}\r\n\r\n",
            "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}",
        ]
        for text in cases {
            XCTAssertEqual(assertEverySplitAgrees(text), .reject(.badRequest), text.debugDescription)
        }
        // A control byte is refused at once, before any line end.
        XCTAssertEqual(parse(Array("GET /\u{1}".utf8), chunkSizes: [10]), .reject(.badRequest))
        XCTAssertEqual(parse(Array("GET /metrics HT".utf8), chunkSizes: [10]), .needMore)
    }

    func testOtherHTTPVersionsAre505() {
        for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"] {
            let text = "GET /metrics \(version)\r\nHost: x\r\n\r\n"
            XCTAssertEqual(assertEverySplitAgrees(text), .reject(.httpVersionNotSupported), version)
        }
    }

    func testHeadLimitIsExactAndOversizeIs431() {
        let base = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: "
        let end = "\r\n\r\n"
        let padding = 8192 - base.utf8.count - end.utf8.count
        let exact = base + String(repeating: "p", count: padding) + end
        XCTAssertEqual(exact.utf8.count, 8192)
        guard case .done(let head, _) = parse(Array(exact.utf8), chunkSizes: [1000]) else {
            return XCTFail("8192 bytes fit")
        }
        XCTAssertEqual(head.length, 8192)
        let over = base + String(repeating: "p", count: padding + 1) + end
        XCTAssertEqual(parse(Array(over.utf8), chunkSizes: [1000]), .reject(.requestHeaderFieldsTooLarge))
        // A stream that never ends its head is cut off at the limit, not buffered forever.
        let endless = [UInt8](repeating: UInt8(ascii: "a"), count: 20_000)
        XCTAssertEqual(parse(endless, chunkSizes: [4096]), .reject(.requestHeaderFieldsTooLarge))
        XCTAssertEqual(
            parse(Array("GET / HTTP/1.0\r\n\r\n".utf8), chunkSizes: [18], maxHeadLength: 17),
            .reject(.requestHeaderFieldsTooLarge))
    }

    func testRandomGarbageAndMutatedRequestsAgreeAtEverySplit() {
        var rng = SplitMix64(seed: 0x4854_5450_3131)
        let seed = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        var verdicts: Set<String> = []
        for caseIndex in 0..<300 {
            var stream = seed
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let position = Int.random(in: 0..<stream.count, using: &rng)
                let byte = Array(" \r\n:/?GETHhx1.\t\u{0}\u{ff}".utf8).randomElement(using: &rng)!
                switch Int.random(in: 0...2, using: &rng) {
                case 0: stream[position] = byte
                case 1: stream.remove(at: position)
                default: stream.insert(byte, at: position)
                }
            }
            if caseIndex % 10 == 0 {
                stream = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            let whole = parse(stream, chunkSizes: [stream.count])
            verdicts.insert("\(whole)".prefix(12).description)
            for cut in 0...stream.count {
                XCTAssertEqual(parse(stream, chunkSizes: [cut, stream.count]), whole, "case \(caseIndex) cut \(cut)")
            }
        }
        XCTAssertGreaterThan(verdicts.count, 2, "mutations reach done, reject and needMore")
    }
}

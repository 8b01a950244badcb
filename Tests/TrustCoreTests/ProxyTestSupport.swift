import XCTest

@testable import TrustCore

let proxyBaseSeed: UInt64 = 0x5052_4F58_5956_3221

/// What parsing a whole stream produced, however it was cut into chunks.
struct ProxyParseOutcome: Equatable, CustomStringConvertible {
    /// The final result, with `consumed` replaced by the header's offset in the stream.
    var verdict: ProxyHeaderParseResult
    /// Stream bytes after the header (the connection's first payload), when done.
    var remainder: [UInt8]

    var description: String { "\(verdict), remainder \(remainder.count) bytes" }
}

/// Feeds `stream` to a fresh parser in chunks of the given sizes (the last takes the rest)
/// and stops at the first verdict, as a server would.
func parseProxyStream(_ stream: [UInt8], mode: ProxyProtocolMode = .any, chunkSizes: [Int]) -> ProxyParseOutcome {
    guard var parser = ProxyHeaderParser(mode: mode) else { fatalError("mode off has no parser") }
    for (offset, chunk) in chunks(of: stream, sizes: chunkSizes) {
        let size = chunk.count
        let result = parser.parse(chunk.span)
        switch result {
        case .needMore:
            XCTAssertEqual(parser.consumedByteCount, offset + size, "needMore consumes the whole chunk")
        case .done(let header, let consumed):
            XCTAssertTrue(consumed >= 0 && consumed <= size, "consumed \(consumed) of a \(size)-byte chunk")
            XCTAssertEqual(header.length, offset + consumed, "header length is where it ended in the stream")
            XCTAssertEqual(parser.consumedByteCount, header.length)
            // The verdict sticks: later bytes are not the header's.
            XCTAssertEqual(parser.parse([1, 2, 3].span), .done(header, consumed: 0))
            return ProxyParseOutcome(
                verdict: .done(header, consumed: header.length), remainder: Array(stream[(offset + consumed)...]))
        case .invalid(let error):
            XCTAssertEqual(parser.parse([1].span), .invalid(error), "an invalid verdict sticks")
            return ProxyParseOutcome(verdict: result, remainder: [])
        }
    }
    return ProxyParseOutcome(verdict: .needMore, remainder: [])
}

/// The stream parsed whole, then at every single cut, then one byte at a time, then at
/// random multi-cuts: all must agree. Returns the whole-stream outcome.
@discardableResult
func assertSameOutcomeForEverySplit(
    _ stream: [UInt8], mode: ProxyProtocolMode = .any, _ context: String = "",
    file: StaticString = #filePath, line: UInt = #line
) -> ProxyParseOutcome {
    let whole = parseProxyStream(stream, mode: mode, chunkSizes: [stream.count])
    for cut in 0...stream.count {
        let split = parseProxyStream(stream, mode: mode, chunkSizes: [cut, stream.count - cut])
        XCTAssertEqual(split, whole, "cut at \(cut) \(context)", file: file, line: line)
    }
    let bytewise = parseProxyStream(stream, mode: mode, chunkSizes: Array(repeating: 1, count: stream.count))
    XCTAssertEqual(bytewise, whole, "byte at a time \(context)", file: file, line: line)
    var rng = SplitMix64(seed: proxyBaseSeed &+ UInt64(stream.count))
    for _ in 0..<8 {
        var sizes: [Int] = []
        var left = stream.count
        while left > 0 {
            let size = Int.random(in: 0...min(left, 24), using: &rng)
            sizes.append(size)
            left -= size
        }
        let random = parseProxyStream(stream, mode: mode, chunkSizes: sizes)
        XCTAssertEqual(random, whole, "chunks \(sizes) \(context)", file: file, line: line)
    }
    return whole
}

func endpoint(_ address: String, _ port: UInt16) -> IPEndpoint {
    guard let parsed = IPAddress(address) else { fatalError("bad test address \(address)") }
    return IPEndpoint(address: parsed, port: port)
}

extension Array where Element == UInt8 {
    init(ascii text: String) { self = Array(text.utf8) }
}

// libFuzzer target for the PROXY protocol parser. Not a SwiftPM target: `make fuzz-proxy`
// compiles it with swiftc together with Sources/TrustCore/Proxy/*.swift (less the one file
// that imports Glibc), which is why those files import nothing.
//
// Properties, each a trap when broken: the verdict and header are the same whether the
// stream is parsed whole, one byte at a time, or at random cuts; `consumed` stays inside its
// chunk and the header length is where it ended in the stream; a header that parses is
// re-encoded and parses to the same endpoints; every read is bounds-checked (Span), so an
// out-of-bounds read traps too, and ASan watches the rest.
//
// Input layout: byte 0 chooses the mode (v1, v2, any) and the v2 length limit, bytes 1-2
// seed the random cuts, the rest is the connection's first bytes.

struct ProxyOutcome: Equatable {
    var verdict: ProxyHeaderParseResult
    var headerEnd: Int
}

func parseInChunks(
    _ stream: [UInt8], mode: ProxyProtocolMode, limit: Int, chunkSize: (Int) -> Int
) -> ProxyOutcome {
    var parser = ProxyHeaderParser(mode: mode, maxV2PayloadLength: limit)!
    var offset = 0
    repeat {
        let size = min(max(chunkSize(stream.count - offset), 0), stream.count - offset)
        // Each chunk in its own exact-size allocation, so ASan sees any read past it.
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer { chunk.deallocate() }
        stream.withUnsafeBytes { whole in
            if size > 0 { chunk.copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[offset..<(offset + size)])) }
        }
        let result = parser.parse(UnsafeRawBufferPointer(chunk))
        switch result {
        case .needMore:
            check(parser.consumedByteCount == offset + size, "needMore did not consume the chunk")
        case .done(let header, let consumed):
            check(consumed >= 0 && consumed <= size, "consumed outside the chunk")
            check(header.length == offset + consumed, "header length is not where it ended")
            check(header.length <= ProxyHeaderParser.v2FixedLength + limit || header.version == .v1)
            check(header.version != .v1 || header.length <= ProxyHeaderParser.maxV1Length, "v1 line too long")
            check(parser.parse(UnsafeRawBufferPointer(chunk)) == .done(header, consumed: 0), "done did not stick")
            return ProxyOutcome(verdict: .done(header, consumed: 0), headerEnd: header.length)
        case .invalid(let error):
            check(parser.parse(UnsafeRawBufferPointer(chunk)) == .invalid(error), "invalid did not stick")
            return ProxyOutcome(verdict: result, headerEnd: -1)
        }
        offset += size
    } while offset < stream.count
    return ProxyOutcome(verdict: .needMore, headerEnd: -1)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func proxyFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let modes: [ProxyProtocolMode] = [.v1, .v2, .any]
    let mode = modes[Int(input[0] & 0x03) % 3]
    let limit = input[0] & 0x80 != 0 ? Int(input[0] & 0x7C) : ProxyHeaderParser.defaultMaxV2PayloadLength
    let seed = UInt64(input[1]) << 8 | UInt64(input[2])
    let stream = Array(input[3...])

    let whole = parseInChunks(stream, mode: mode, limit: limit) { $0 }
    let bytewise = parseInChunks(stream, mode: mode, limit: limit) { _ in 1 }
    var random = SplitRandom(seed: seed)
    let randomCuts = parseInChunks(stream, mode: mode, limit: limit) { remaining in
        random.next(below: 3) == 0 ? random.next(below: remaining + 1) : random.next(below: 8)
    }
    check(bytewise == whole, "1-byte split differs from whole: \(bytewise) vs \(whole)")
    check(randomCuts == whole, "random split differs from whole: \(randomCuts) vs \(whole)")

    // A parsed PROXY header with addresses re-encodes to one that parses the same.
    if case .done(let header, _) = whole.verdict, let source = header.source, let destination = header.destination {
        let again =
            header.version == .v1
            ? ProxyHeaderEncoder.v1(source: source, destination: destination)
            : ProxyHeaderEncoder.v2(source: source, destination: destination)
        var parser = ProxyHeaderParser(mode: .any)!
        let reparsed = again.withUnsafeBytes { parser.parse($0) }
        guard case .done(let second, let consumed) = reparsed else { fatalError("re-encoded header does not parse") }
        check(consumed == again.count)
        check(second.source == source && second.destination == destination, "re-encoded endpoints differ")
    }
    return 0
}

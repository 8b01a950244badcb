import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-client --tls`: the same exchanges and checks over a TLS stream
/// (`TLSClientStream`), framed or raw; a raw half-close is close_notify
/// followed by the TCP half-close.
extension EchoClient {
    func runTLS(_ fd: Int32, _ tls: TLSClientOptions, _ context: TLSContext, output: (String) -> Void)
        throws(TrustError)
    {
        let stream = try TLSClientStream(fd: fd, context: context, serverName: tls.serverName ?? options.host)
        try stream.handshake(target: target, timeout: options.timeout)
        if options.raw {
            try exchangeRawTLS(stream, output: output)
        } else {
            try exchangeFramedTLS(stream, output: output)
            stream.close()
        }
    }

    private func exchangeFramedTLS(_ stream: TLSClientStream, output: (String) -> Void) throws(TrustError) {
        if let size = options.payloadSize {
            guard UInt32(exactly: size) != nil else {
                throw .usage("--payload-size \(size) does not fit a frame's 32-bit length; use --raw")
            }
            let frame = FrameEncoder.encode(PayloadPattern.bytes(count: size))
            try verify(try exchangeTLS(stream, frame, expected: frame.count, halfClose: false), against: frame)
            output("echoed \(size) bytes, verified")
            return
        }
        for message in options.messages {
            let frame = FrameEncoder.encode(message.utf8)
            for _ in 0..<options.count {
                try verify(try exchangeTLS(stream, frame, expected: frame.count, halfClose: false), against: frame)
                output(message)
            }
        }
    }

    private func exchangeRawTLS(_ stream: TLSClientStream, output: (String) -> Void) throws(TrustError) {
        var bytes: [UInt8]
        if let size = options.payloadSize {
            bytes = PayloadPattern.bytes(count: size)
        } else {
            let text = options.messages.map { $0 + "\n" }.joined()
            bytes = []
            for _ in 0..<options.count { bytes.append(contentsOf: text.utf8) }
        }
        let echo = try exchangeTLS(stream, bytes, expected: bytes.count + 1, halfClose: true)
        if echo.count > bytes.count {
            throw TrustError(kind: .dataMismatch, message: "the server echoed more bytes than the \(bytes.count) sent")
        }
        try verify(echo, against: bytes)
        if options.payloadSize != nil {
            output("echoed \(bytes.count) bytes, verified")
        } else {
            var text = String(decoding: echo, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) { output(String(line)) }
        }
    }

    private func exchangeTLS(_ stream: TLSClientStream, _ bytes: [UInt8], expected: Int, halfClose: Bool)
        throws(TrustError) -> [UInt8]
    {
        let result = stream.exchange(bytes, expected: expected, halfClose: halfClose)
        if result.receiveRC == -Int(EPROTO) || result.sendRC == -Int(EPROTO) {
            throw TrustError(kind: .closedEarly, message: "TLS failure: \(stream.failureReason)")
        }
        try check((result.receiveRC, result.echo), expected: expected, sent: bytes)
        if result.sendRC < 0 {
            try sendFailed(
                Errno(rawValue: Int32(truncatingIfNeeded: result.sendRC)), sent: result.sent, of: bytes.count)
        }
        return result.echo
    }
}

import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// The operations endpoint (SPEC §13): `/metrics`, `/healthz` and `/readyz`
/// over HTTP/1.1, one request per connection, served on the coordinator's
/// event loop so the workers' echo path pays nothing for it.
///
/// Bounds, so a scraper (or anyone reaching the port) cannot hold the
/// coordinator: at most `maxScrapes` connections at once (the next is
/// accepted and closed), a request head of at most 8 KiB (431), and
/// `headerTimeoutMs` for the whole head to arrive (408). Each response is
/// followed by a half-close and a short linger that discards what the client
/// still sends, so a rejected request's unread bytes do not turn the close
/// into a reset that destroys the response.
final class MetricsEndpoint {
    /// `trustctl_build_info{version=...}`; the CLI's `--version` says the same.
    static let version = "0.1.0"
    static let maxScrapes = 16
    static let headerTimeoutMs: Int64 = 5000
    /// How long after its response a connection may still send before it is closed.
    static let lingerMs: Int64 = 1000
    /// Tokens on the coordinator's loop: the listener, then one per scrape slot.
    static let listenerToken: UInt64 = 2
    private static let firstScrapeToken: UInt64 = 16

    let port: UInt16
    private let listener: Int32
    private let loop: EventLoop
    private var scrapes: [Scrape]

    private struct Scrape {
        enum Phase { case free, reading, writing, lingering }
        var fd: Int32 = -1
        var phase = Phase.free
        var parser = HTTPRequestParser()
        var deadline: Int64 = 0
        var output: [UInt8] = []
        var sent = 0
    }

    /// Binds `host:port` and registers the listener on `loop` (the coordinator's).
    init(host: String, port: UInt16, loop: EventLoop) throws(TrustError) {
        let (fd, bound) = try SocketAddress.listen(host: host, port: port, backlog: 64, flags: CNET_NONBLOCK)
        if let failure = loop.add(fd, .read, token: MetricsEndpoint.listenerToken) {
            _ = cnet_close(fd)
            throw TrustError.system(failure, operation: "epoll_ctl(metrics listener)")
        }
        self.listener = fd
        self.port = bound
        self.loop = loop
        self.scrapes = Array(repeating: Scrape(), count: MetricsEndpoint.maxScrapes)
    }

    deinit {
        for index in scrapes.indices where scrapes[index].fd >= 0 { _ = cnet_close(scrapes[index].fd) }
        _ = cnet_close(listener)
    }

    /// True when `token` is one of this endpoint's registrations.
    func owns(_ token: UInt64) -> Bool {
        token == MetricsEndpoint.listenerToken
            || (token >= MetricsEndpoint.firstScrapeToken
                && token < MetricsEndpoint.firstScrapeToken + UInt64(MetricsEndpoint.maxScrapes))
    }

    /// Handles one event reported for an owned token. `answer` gives the
    /// response to a complete request head.
    func handle(token: UInt64, now: Int64, answer: (HTTPRequestHead) -> [UInt8]) {
        if token == MetricsEndpoint.listenerToken {
            acceptAll(now: now)
            return
        }
        let index = Int(token - MetricsEndpoint.firstScrapeToken)
        switch scrapes[index].phase {
        case .free: return
        case .reading, .lingering: receive(index, now: now, answer: answer)
        case .writing: flush(index, now: now)
        }
    }

    /// Milliseconds until the next deadline; -1 when nothing waits on one.
    func timeoutMs(now: Int64) -> Int32 {
        var next: Int64? = nil
        for scrape in scrapes where scrape.phase != .free {
            next = min(next ?? scrape.deadline, scrape.deadline)
        }
        guard let next else { return -1 }
        return Int32(clamping: max(0, next - now))
    }

    /// Answers 408 to heads still incomplete at their deadline; closes the
    /// rest whose deadline passed (a response the client would not take, a linger).
    func expire(now: Int64) {
        for index in scrapes.indices where scrapes[index].phase != .free && scrapes[index].deadline <= now {
            if scrapes[index].phase == .reading {
                respond(index, MetricsEndpoint.rejection(.requestTimeout), now: now)
            } else {
                release(index)
            }
        }
    }

    private func acceptAll(now: Int64) {
        while true {
            let fd = cnet_accept(listener, nil, nil)
            if fd < 0 { return }  // EAGAIN, or an aborted connection: nothing more now
            guard let index = scrapes.firstIndex(where: { $0.phase == .free }) else {
                _ = cnet_close(fd)
                continue
            }
            let token = MetricsEndpoint.firstScrapeToken + UInt64(index)
            guard loop.add(fd, .read, token: token) == nil else {
                _ = cnet_close(fd)
                continue
            }
            scrapes[index] = Scrape(
                fd: fd, phase: .reading, parser: HTTPRequestParser(),
                deadline: now + MetricsEndpoint.headerTimeoutMs)
        }
    }

    private func receive(_ index: Int, now: Int64, answer: (HTTPRequestHead) -> [UInt8]) {
        let chunkSize = 4096
        withUnsafeTemporaryAllocation(byteCount: chunkSize, alignment: 1) { buffer in
            while scrapes[index].phase == .reading || scrapes[index].phase == .lingering {
                let n = cnet_recv(scrapes[index].fd, buffer.baseAddress, chunkSize)
                if n == -Int(EAGAIN) { return }
                if n <= 0 {
                    // End of input or an error: a request cut short gets no answer.
                    release(index)
                    return
                }
                if scrapes[index].phase == .lingering { continue }
                switch scrapes[index].parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
                case .needMore:
                    continue
                case .done(let head, _):
                    respond(index, answer(head), now: now)
                case .reject(let status):
                    respond(index, MetricsEndpoint.rejection(status), now: now)
                }
            }
        }
    }

    private static func rejection(_ status: HTTPStatus) -> [UInt8] {
        OpsResponder.rejection(status, unixTime: unixTime())
    }

    private func respond(_ index: Int, _ bytes: [UInt8], now: Int64) {
        scrapes[index].output = bytes
        scrapes[index].sent = 0
        scrapes[index].phase = .writing
        // The same bound again for a client that does not read its response.
        scrapes[index].deadline = now + MetricsEndpoint.headerTimeoutMs
        flush(index, now: now)
    }

    private func flush(_ index: Int, now: Int64) {
        let fd = scrapes[index].fd
        while scrapes[index].sent < scrapes[index].output.count {
            let n = scrapes[index].output.withUnsafeBytes { bytes in
                cnet_send(fd, bytes.baseAddress! + scrapes[index].sent, bytes.count - scrapes[index].sent)
            }
            if n == -Int(EAGAIN) {
                _ = loop.modify(fd, .write, token: MetricsEndpoint.firstScrapeToken + UInt64(index))
                return
            }
            if n < 0 {
                release(index)
                return
            }
            scrapes[index].sent += n
        }
        scrapes[index].output = []
        _ = cnet_shutdown_write(fd)
        scrapes[index].phase = .lingering
        scrapes[index].deadline = now + MetricsEndpoint.lingerMs
        // Level-triggered: bytes already waiting are reported (and discarded) next.
        _ = loop.modify(fd, .read, token: MetricsEndpoint.firstScrapeToken + UInt64(index))
    }

    private func release(_ index: Int) {
        loop.remove(scrapes[index].fd)
        _ = cnet_close(scrapes[index].fd)
        scrapes[index] = Scrape()
    }

    static func unixTime() -> Int64 { Int64(time(nil)) }
}

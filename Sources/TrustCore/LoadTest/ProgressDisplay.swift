#if canImport(Glibc)
    import Glibc
#endif

/// The progress display on a terminal: one line (`ProgressLine`) on
/// stderr, redrawn in place a few times a second, cleared when the run
/// ends or is interrupted so the summary starts on a clean line.
///
/// Redrawn in place means: a carriage return, the new text, and "erase to
/// the end of the line" — and a text always shorter than the terminal is
/// wide, read again at every frame (the window may be resized), so the
/// line never wraps and the carriage return always reaches its start. A
/// frame equal to the last one drawn is not written again.
struct ProgressDisplay {
    static let frameIntervalNs: Int64 = 200_000_000
    /// The rate shown is over about this much of the recent past.
    static let rateWindowNs: Int64 = 1_000_000_000

    private let fd: Int32
    private let progress: LoadTestProgress
    private let startedAt: Int64
    private let durationSeconds: Double?
    private let planned: Int?
    private var drawn = ""
    private var broken = false
    /// (time, ok + failed) of recent frames, oldest first, for the rate.
    private var samples: [(at: Int64, done: Int)] = []
    private(set) var nextFrameAt: Int64

    init(options: LoadTestOptions, progress: LoadTestProgress, startedAt: Int64, fd: Int32 = 2) {
        self.fd = fd
        self.progress = progress
        self.startedAt = startedAt
        durationSeconds = options.duration
        planned = LoadTestReport.plannedRoundTrips(of: options)
        nextFrameAt = startedAt
    }

    /// Draws a frame if one is due.
    mutating func tick(now: Int64) {
        guard now >= nextFrameAt else { return }
        nextFrameAt = now + ProgressDisplay.frameIntervalNs
        let ok = progress.ok
        let failed = progress.failed
        samples.append((now, ok &+ failed))
        while samples.count > 2 && now - samples[1].at >= ProgressDisplay.rateWindowNs { samples.removeFirst() }
        let oldest = samples[0]
        let span = Double(now - oldest.at) / 1e9
        let line = ProgressLine(
            elapsedSeconds: Double(now - startedAt) / 1e9, ok: ok, failed: failed,
            rate: span > 0 ? Double(ok &+ failed &- oldest.done) / span : 0, durationSeconds: durationSeconds,
            planned: planned)
        let text = line.text(width: ProgressDisplay.columns(of: fd))
        guard text != drawn else { return }
        drawn = text
        write("\r" + text + "\u{1B}[K")
    }

    /// Erases the line (and whatever the terminal echoed on it, such as
    /// `^C`), leaving the cursor at its start.
    mutating func clear() {
        write("\r\u{1B}[K")
        drawn = ""
    }

    /// The terminal's width: `COLUMNS` when it is a positive number (the
    /// user's override, as for ls), else the size of the terminal on `fd`
    /// (TIOCGWINSZ), else 80.
    static func columns(of fd: Int32) -> Int {
        if let text = getenv("COLUMNS"), let value = Int(String(cString: text)), value > 0 { return value }
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// Writes all of `text`; after a write error (the terminal went away)
    /// the display stays silent rather than fail the run.
    private mutating func write(_ text: String) {
        guard !broken else { return }
        var bytes = Array(text.utf8)
        let count = bytes.count
        var offset = 0
        // Bounded: each pass writes at least one byte or stops.
        while offset < count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                broken = true
                return
            }
            offset += n
        }
    }
}

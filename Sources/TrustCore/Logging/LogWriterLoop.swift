import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What the log writer's thread does: take the queued lines, write them to
/// the file with one `write`, say in the file what was lost, and say on
/// stderr when the file itself fails.
///
/// `@unchecked Sendable` is sound because only the writer thread uses the
/// mutable state: `LogWriter.init` builds the loop before `pthread_create`
/// hands it over (or, if the thread is not created, closes it itself).
final class LogWriterLoop: @unchecked Sendable {
    let queue: LogWriterQueue
    private var file: LogFile
    private let processID = getpid()
    private var notices = LogWriteFailureNotices()

    /// Lines lost that no `log_lines_dropped` line has reported yet.
    private var unreportedRefused: UInt64 = 0
    private var unreportedFailed: UInt64 = 0
    private var unreportedErrno: Errno?

    init(queue: LogWriterQueue, file: LogFile) {
        self.queue = queue
        self.file = file
    }

    /// For a loop whose thread could not be started.
    func closeFile() {
        file.close()
    }

    func run() {
        var lines: [UInt8] = []
        // The writer's own lines, then the batch: one write for both.
        var combined: [UInt8] = []
        while let batch = queue.takeBatch(into: &lines) {
            combined.removeAll(keepingCapacity: true)
            var reopenFailed = false
            // Reopen first: lines logged after a SIGHUP belong in the new file.
            if batch.reopen, let failure = file.reopen() {
                reopenFailed = true
                appendOwnLine(to: &combined, event: "log_reopen_failed", fields: reopenFields(failure))
            }
            unreportedRefused += batch.refused
            let reportsDrops = unreportedRefused + unreportedFailed > 0
            if reportsDrops {
                appendOwnLine(to: &combined, event: "log_lines_dropped", fields: dropReportFields())
            }
            let ownBytes = combined.count
            let outcome: (bytesWritten: Int, failure: Errno?)
            if combined.isEmpty {
                outcome = lines.isEmpty ? (0, nil) : file.appendWholeLines(lines)
            } else {
                combined.append(contentsOf: lines)
                outcome = file.appendWholeLines(combined)
            }
            let lost = record(
                batch, outcome: outcome, in: combined.isEmpty ? lines : combined, ownBytes: ownBytes,
                reopenFailed: reopenFailed)
            // The report is the last of the writer's own lines: it is in the
            // file when everything up to `ownBytes` is.
            if outcome.failure == nil || (reportsDrops && outcome.bytesWritten >= ownBytes) {
                unreportedRefused = 0
                unreportedFailed = 0
                unreportedErrno = nil
            }
            if let failure = outcome.failure, lost > 0 {
                unreportedFailed += lost
                unreportedErrno = failure
            }
            lines.removeAll(keepingCapacity: true)
        }
        file.close()
        queue.markWriterExited()
    }

    /// Updates the counters and stderr after one write; returns how many of
    /// the batch's lines were lost.
    private func record(
        _ batch: LogWriterQueue.Batch, outcome: (bytesWritten: Int, failure: Errno?), in buffer: [UInt8],
        ownBytes: Int, reopenFailed: Bool
    ) -> UInt64 {
        let ownLinesWritten = Self.lineCount(buffer, from: 0, to: min(outcome.bytesWritten, ownBytes))
        let batchLinesWritten =
            outcome.failure == nil
            ? batch.lines : Self.lineCount(buffer, from: ownBytes, to: max(ownBytes, outcome.bytesWritten))
        let lost = batch.lines - batchLinesWritten
        let counters = queue.completeBatch(batch.number) { counters in
            counters.linesWritten += ownLinesWritten + batchLinesWritten
            counters.linesLost += lost
            if reopenFailed { counters.reopenFailures += 1 }
            if let failure = outcome.failure {
                counters.writeErrors += 1
                counters.lastErrno = failure
            }
        }
        if let failure = outcome.failure {
            notices.writeFailed(
                failure, path: file.path, linesDropped: counters.linesDropped,
                now: MonotonicClock.coarseMilliseconds())
        } else if !buffer.isEmpty {
            notices.writeSucceeded(path: file.path, linesDropped: counters.linesDropped)
        }
        return lost
    }

    private func reopenFields(_ failure: LogFile.OpenFailure) -> [(key: String, value: Logger.MetadataValue)] {
        switch failure {
        case .system(let errno):
            return [("errno", .string(errno.name)), ("path", .string(file.path))]
        case .notRegularFile(let kind):
            return [("file_type", .string(kind.rawValue)), ("path", .string(file.path))]
        }
    }

    private func dropReportFields() -> [(key: String, value: Logger.MetadataValue)] {
        var fields: [(key: String, value: Logger.MetadataValue)] = [
            ("count", .stringConvertible(unreportedRefused + unreportedFailed)),
            ("queue_full", .stringConvertible(unreportedRefused)),
            ("write_failed", .stringConvertible(unreportedFailed)),
        ]
        if let errno = unreportedErrno { fields.append(("errno", .string(errno.name))) }
        return fields
    }

    /// The writer's own lines (about the log itself) use the handler's format.
    private func appendOwnLine(
        to buffer: inout [UInt8], event: String, fields: [(key: String, value: Logger.MetadataValue)]
    ) {
        var line = JSONLineBuffer(capacity: 160)
        line.appendLineHeader(timestamp: .now(), level: .warning, event: event, pid: processID)
        for field in fields {
            line.appendField(key: field.key, value: field.value)
        }
        line.closeObject()
        buffer.append(contentsOf: line.bytes)
        buffer.append(UInt8(ascii: "\n"))
    }

    private static func lineCount(_ buffer: [UInt8], from start: Int, to end: Int) -> UInt64 {
        guard start < end else { return 0 }
        var count: UInt64 = 0
        for byte in buffer[start..<end] where byte == UInt8(ascii: "\n") { count += 1 }
        return count
    }
}

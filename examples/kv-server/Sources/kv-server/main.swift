// A framed key-value server: the whole protocol. Listening, limits, timeouts,
// backpressure, drain, logs and settings all come from TrustCore's core.
import Synchronization
import TrustCore

#if canImport(Glibc)
    import Glibc
#endif

/// Operations and statuses of the wire format (README.md).
enum Op: UInt8 {
    case get = 1
    case put = 2
    case delete = 3
}

enum Status: UInt8 {
    case ok = 0
    case notFound = 1
    case badRequest = 2
}

/// One map shared by every worker and connection.
final class Store: Sendable {
    private let entries = Mutex<[[UInt8]: [UInt8]]>([:])

    func get(_ key: [UInt8]) -> [UInt8]? { entries.withLock { $0[key] } }
    func put(_ key: [UInt8], _ value: [UInt8]) { entries.withLock { $0[key] = value } }
    func delete(_ key: [UInt8]) -> Bool { entries.withLock { $0.removeValue(forKey: key) != nil } }
}

struct KeyValueHandler: StreamHandler {
    struct Session {
        var decoder: FrameDecoder
    }

    let store: Store
    let maxFrame: UInt32

    var readyLabel: String { "kv" }

    func makeSession() -> Session { Session(decoder: FrameDecoder(maxFrame: maxFrame)) }

    /// Whole-message request/response: every complete request frame gets
    /// one response frame, in order, however TCP split or merged them.
    func received(_ chunk: UnsafeMutableRawBufferPointer, session: inout Session, connection: inout StreamConnection) {
        session.decoder.append(UnsafeRawBufferPointer(chunk))
        do {
            while let request = try session.decoder.nextFrame() {
                let frame = FrameEncoder.encode(respond(to: request))
                guard frame.withUnsafeBytes({ connection.send($0) }) else { return }
                connection.countFrames(1)
            }
        } catch {
            connection.close(.frameTooLarge)
        }
    }

    func endOfInput(session: inout Session) -> CloseReason {
        session.decoder.isMidFrame ? .truncatedFrame : .peerClosed
    }

    /// Request: op, key length (2 bytes, big-endian), key, value (PUT only).
    /// Response: status, then the value (a found GET only).
    func respond(to request: [UInt8]) -> [UInt8] {
        guard request.count >= 3, let op = Op(rawValue: request[0]) else { return [Status.badRequest.rawValue] }
        let keyEnd = 3 + (Int(request[1]) << 8 | Int(request[2]))
        guard keyEnd <= request.count, op == .put || keyEnd == request.count else {
            return [Status.badRequest.rawValue]
        }
        let key = Array(request[3..<keyEnd])
        switch op {
        case .get:
            guard let value = store.get(key) else { return [Status.notFound.rawValue] }
            return [Status.ok.rawValue] + value
        case .put:
            store.put(key, Array(request[keyEnd...]))
            return [Status.ok.rawValue]
        case .delete:
            return [store.delete(key) ? Status.ok.rawValue : Status.notFound.rawValue]
        }
    }
}

exit(
    ServerLauncher.main(name: "kv-server", arguments: Array(CommandLine.arguments.dropFirst())) { settings in
        KeyValueHandler(store: Store(), maxFrame: settings.maxFrame)
    })

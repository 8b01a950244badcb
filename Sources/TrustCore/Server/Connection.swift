import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// Why a connection ended: the `reason` of its `connection_closed` line.
enum CloseReason: UInt8 {
    case none = 0
    case peerClosed
    case idleTimeout
    case sendTimeout
    case frameTooLarge
    case truncatedFrame
    case reset
    case shutdown
    case error

    var name: String {
        switch self {
        case .none: return "none"
        case .peerClosed: return "peer_closed"
        case .idleTimeout: return "idle_timeout"
        case .sendTimeout: return "send_timeout"
        case .frameTooLarge: return "frame_too_large"
        case .truncatedFrame: return "truncated_frame"
        case .reset: return "reset"
        case .shutdown: return "shutdown"
        case .error: return "error"
        }
    }
}

/// The state of one client connection, stored by value in a table indexed
/// by descriptor. It holds only integers and one optional pointer, so a
/// zeroed slot is a valid free slot and an idle connection costs about a
/// hundred bytes: no buffer is held unless the client stops reading.
struct Connection {
    /// Bumped on every close, so a stale epoll token for a reused
    /// descriptor number no longer matches.
    var generation: UInt32
    var isOpen: Bool
    /// Decided per connection in auto mode by the first byte.
    var mode: ConnectionMode
    /// Reads are paused while echoes wait in `pending` (backpressure).
    var readPaused: Bool
    /// Close once `pending` is flushed, with this reason.
    var closeAfterFlush: CloseReason
    var scanner: FrameScanner
    /// Echo bytes the kernel would not take yet: at most one read's worth,
    /// because reading stops while any are waiting.
    var pending: UnsafeMutableRawPointer?
    var pendingOffset: Int32
    var pendingCount: Int32
    var bytesIn: UInt64
    var bytesOut: UInt64
    var serial: UInt64
    var acceptedAt: Int64
    /// The declared length of a rejected frame, for the close log line.
    var rejectedLength: UInt32
    var peer: PeerAddress
}

enum ConnectionMode: UInt8 {
    case undecided = 0
    case raw
    case framed
}

/// Descriptor-indexed connection slots of one worker. Allocated once with
/// calloc for the process's descriptor limit: the virtual reservation is
/// free, and only slots of descriptors actually used are ever touched.
final class ConnectionTable {
    let capacity: Int
    private let slots: UnsafeMutablePointer<Connection>

    init(capacity: Int) {
        self.capacity = capacity
        slots = ConnectionTable.zeroedSlots(count: capacity)
    }

    deinit { free(slots) }

    /// calloc returns zeroed memory aligned for any type. `Connection` is a
    /// trivial type (integers, Bools, one optional raw pointer, and enums
    /// whose zero raw value is a valid case), so all-zero bytes are a valid
    /// free slot and binding the memory to it is safe.
    private static func zeroedSlots(count: Int) -> UnsafeMutablePointer<Connection> {
        precondition(_isPOD(Connection.self))
        guard let raw = calloc(count, MemoryLayout<Connection>.stride) else {
            fatalError("ConnectionTable: out of memory for \(count) slots")
        }
        return raw.bindMemory(to: Connection.self, capacity: count)
    }

    @inline(__always)
    func slot(_ fd: Int32) -> UnsafeMutablePointer<Connection> {
        slots + Int(fd)
    }
}

/// A peer's address kept in 24 bytes instead of a 128-byte sockaddr_storage
/// or a heap String; formatted only when a log line needs it.
struct PeerAddress {
    var family: UInt16 = 0
    var port: UInt16 = 0
    var high: UInt64 = 0
    var low: UInt64 = 0

    init() {}

    /// Reads the family, address and port out of an accepted peer address.
    /// sockaddr_storage is large enough and aligned for both sockaddr_in and
    /// sockaddr_in6, so reinterpreting it according to ss_family is safe.
    init(_ storage: inout sockaddr_storage) {
        family = storage.ss_family
        if Int32(family) == AF_INET {
            withUnsafePointer(to: &storage) { raw in
                raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    port = a.pointee.sin_port
                    low = UInt64(a.pointee.sin_addr.s_addr)
                }
            }
        } else if Int32(family) == AF_INET6 {
            withUnsafePointer(to: &storage) { raw in
                raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    port = a.pointee.sin6_port
                    withUnsafeBytes(of: a.pointee.sin6_addr) { bytes in
                        high = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
                        low = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                    }
                }
            }
        }
    }

    /// "1.2.3.4:5678" or "[::1]:5678".
    var formatted: String {
        var storage = sockaddr_storage()
        var length: socklen_t = 0
        withUnsafeMutablePointer(to: &storage) { raw in
            if Int32(family) == AF_INET {
                raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    a.pointee.sin_family = sa_family_t(AF_INET)
                    a.pointee.sin_port = port
                    a.pointee.sin_addr.s_addr = UInt32(truncatingIfNeeded: low)
                }
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
            } else if Int32(family) == AF_INET6 {
                raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    a.pointee.sin6_family = sa_family_t(AF_INET6)
                    a.pointee.sin6_port = port
                    withUnsafeMutableBytes(of: &a.pointee.sin6_addr) { bytes in
                        bytes.storeBytes(of: high, toByteOffset: 0, as: UInt64.self)
                        bytes.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
                    }
                }
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
        return withUnsafePointer(to: &storage) { raw in
            raw.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(CNET_ADDRSTRLEN)) { buffer in
                    let n = cnet_sockaddr_format(address, length, buffer.baseAddress, buffer.count)
                    return n < 0 ? "unknown" : String(cString: buffer.baseAddress!)
                }
            }
        }
    }
}

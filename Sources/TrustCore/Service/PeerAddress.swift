import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// A peer's address kept in 24 bytes instead of a 128-byte sockaddr_storage
/// or a heap String; formatted only when a log line needs it.
struct PeerAddress: BitwiseCopyable {
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

    /// The address as the PROXY code sees it (host-order values); nil for
    /// a family other than IPv4 and IPv6.
    var endpoint: IPEndpoint? {
        let hostPort = UInt16(bigEndian: port)
        if Int32(family) == AF_INET {
            return IPEndpoint(address: .v4(UInt32(bigEndian: UInt32(truncatingIfNeeded: low))), port: hostPort)
        }
        if Int32(family) == AF_INET6 {
            return IPEndpoint(
                address: .v6(high: UInt64(bigEndian: high), low: UInt64(bigEndian: low)), port: hostPort)
        }
        return nil
    }

    /// A PROXY header's source as a peer address (stored as the kernel's
    /// sockaddr bytes are).
    init(_ endpoint: IPEndpoint) {
        port = endpoint.port.bigEndian
        switch endpoint.address {
        case .v4(let value):
            family = UInt16(AF_INET)
            low = UInt64(value.bigEndian)
        case .v6(let hostHigh, let hostLow):
            family = UInt16(AF_INET6)
            high = hostHigh.bigEndian
            low = hostLow.bigEndian
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

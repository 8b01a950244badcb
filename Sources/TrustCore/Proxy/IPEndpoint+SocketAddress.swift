// The one file of Proxy/ that imports the C library: mk/fuzz.mk leaves it out of the fuzzer.
#if canImport(Glibc)
    import Glibc
#endif

extension IPEndpoint {
    /// The endpoint in an accepted peer's or a socket's own address (sockaddr_in or
    /// sockaddr_in6); nil for any other family.
    public init?(socketAddress storage: sockaddr_storage) {
        guard let endpoint = Self.decode(storage) else { return nil }
        self = endpoint
    }

    /// Safe because it only reads bytes inside the sockaddr_storage value, at the offsets the
    /// C structures define, with unaligned loads.
    private static func decode(_ storage: sockaddr_storage) -> IPEndpoint? {
        withUnsafeBytes(of: storage) { raw -> IPEndpoint? in
            func port(at offset: Int) -> UInt16 {
                UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            }
            switch Int32(storage.ss_family) {
            case AF_INET:
                let portOffset = MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!
                let addressOffset = MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!
                let value = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: addressOffset, as: UInt32.self))
                return IPEndpoint(address: .v4(value), port: port(at: portOffset))
            case AF_INET6:
                let portOffset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_port)!
                let addressOffset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!
                let high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: addressOffset, as: UInt64.self))
                let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: addressOffset + 8, as: UInt64.self))
                return IPEndpoint(address: .v6(high: high, low: low), port: port(at: portOffset))
            default:
                return nil
            }
        }
    }
}

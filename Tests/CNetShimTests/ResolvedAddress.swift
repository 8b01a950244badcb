import CNetShim
import Glibc

/// A socket address filled in by cnet_resolve or cnet_accept, with the
/// pointer casts the C API needs kept in one place.
struct ResolvedAddress {
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    static func resolve(_ host: String?, port: UInt16, passive: Bool = false) throws
        -> ResolvedAddress
    {
        var address = ResolvedAddress()
        try ShimFailure.check(
            cnet_resolve(host, port, passive ? 1 : 0, &address.storage, &address.length),
            "cnet_resolve(\(host ?? "nil"))")
        return address
    }

    /// cnet_sockaddr_format into a buffer of `capacity` bytes: the result
    /// and the text written.
    func formatted(capacity: Int = Int(CNET_ADDRSTRLEN)) -> (result: Int32, text: String) {
        var buffer = [CChar](repeating: 0x7f, count: capacity)
        var copy = storage
        // Safe: sockaddr_storage is large enough for any sockaddr, the
        // rebound pointer lives only for the call, and the buffer's real
        // size is passed.
        let result = withUnsafePointer(to: &copy) { storagePointer in
            storagePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                buffer.withUnsafeMutableBufferPointer {
                    cnet_sockaddr_format(address, length, $0.baseAddress, $0.count)
                }
            }
        }
        let end = buffer.firstIndex(of: 0) ?? buffer.count
        return (result, String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Calls body with this address as the `const struct sockaddr *` the C
    /// API takes. Safe: the pointer does not escape body.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var copy = storage
        return try withUnsafePointer(to: &copy) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    /// Accepts one connection that is about to arrive (waits up to 10 s):
    /// the non-blocking descriptor and the peer address.
    static func acceptPending(on listener: Int32) throws -> (fd: Int32, peer: ResolvedAddress) {
        try LoopbackPair.waitReadable(listener, milliseconds: LoopbackPair.safetyTimeoutMilliseconds)
        var peer = ResolvedAddress()
        let fd = try ShimFailure.check(
            cnet_accept(listener, &peer.storage, &peer.length), "cnet_accept")
        return (fd, peer)
    }
}

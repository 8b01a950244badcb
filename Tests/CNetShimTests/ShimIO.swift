import CNetShim
import Glibc

/// Byte-array front ends for the shim's IO calls, so the tests themselves
/// never touch raw pointers.
enum ShimIO {
    /// cnet_send_all: the result and the `sent` count.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> (result: Int, sent: Int) {
        var sent = 0
        // Safe: the pointer lives only for the call and bytes.count is its size.
        let result = bytes.withUnsafeBytes { cnet_send_all(fd, $0.baseAddress, $0.count, &sent) }
        return (result, sent)
    }

    /// cnet_recv_all into a fresh buffer of `count` bytes: the result, the
    /// `received` count and the bytes that arrived.
    static func recvAll(_ fd: Int32, count: Int) -> (result: Int, received: Int, bytes: [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: count)
        var received = 0
        // Safe: the pointer lives only for the call and count is its size.
        let result = buffer.withUnsafeMutableBytes {
            cnet_recv_all(fd, $0.baseAddress, $0.count, &received)
        }
        return (result, received, Array(buffer.prefix(received)))
    }

    /// cnet_send_some: bytes moved or -errno.
    static func sendSome(_ fd: Int32, _ bytes: [UInt8]) -> Int {
        // Safe: the pointer lives only for the call and bytes.count is its size.
        bytes.withUnsafeBytes { cnet_send_some(fd, $0.baseAddress, $0.count) }
    }

    /// cnet_recv_some into a buffer of `capacity` bytes: the result and the
    /// bytes moved (empty on -errno or end of stream).
    static func recvSome(_ fd: Int32, capacity: Int) -> (result: Int, bytes: [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: capacity)
        // Safe: the pointer lives only for the call and capacity is its size.
        let result = buffer.withUnsafeMutableBytes { cnet_recv_some(fd, $0.baseAddress, $0.count) }
        return (result, result > 0 ? Array(buffer.prefix(result)) : [])
    }

    /// cnet_recv (one call) into a buffer of `capacity` bytes.
    static func recvOnce(_ fd: Int32, capacity: Int) -> (result: Int, bytes: [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: capacity)
        // Safe: the pointer lives only for the call and capacity is its size.
        let result = buffer.withUnsafeMutableBytes { cnet_recv(fd, $0.baseAddress, $0.count) }
        return (result, result > 0 ? Array(buffer.prefix(result)) : [])
    }

    /// Reads the descriptor's file status flags (F_GETFL) or -errno.
    static func statusFlags(_ fd: Int32) -> Int32 {
        let flags = fcntl(fd, F_GETFL)
        return flags < 0 ? -errno : flags
    }

    /// Reads the descriptor flags (F_GETFD, where FD_CLOEXEC lives) or -errno.
    static func descriptorFlags(_ fd: Int32) -> Int32 {
        let flags = fcntl(fd, F_GETFD)
        return flags < 0 ? -errno : flags
    }

    /// A deterministic byte stream, so a lost, doubled or reordered chunk
    /// shows up as a mismatch. It repeats with a prime period, so it never
    /// lines up with chunk or buffer sizes; building arrays from one period
    /// keeps multi-megabyte payloads cheap in debug builds.
    static let patternPeriod = 65_521

    static func patternByte(at index: Int) -> UInt8 {
        let i = index % patternPeriod
        return UInt8(truncatingIfNeeded: (i &* 2_654_435_761) >> 13 ^ i)
    }

    private static let onePeriod = (0..<patternPeriod).map(patternByte(at:))

    static func pattern(count: Int, from start: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        var offset = start % patternPeriod
        while bytes.count < count {
            let take = min(patternPeriod - offset, count - bytes.count)
            bytes.append(contentsOf: onePeriod[offset..<(offset + take)])
            offset = 0
        }
        return bytes
    }
}

/// The deterministic bytes the echo client and the load tester send.
///
/// Printable ASCII (0x21...0x7E) from a fixed xorshift sequence: never
/// 0x00, so a raw payload is never mistaken for a frame by a server in
/// `auto` mode, readable when `--raw` prints it back, and without a short
/// period, so an echo that is shifted, reordered or mixed with another
/// connection's bytes does not compare equal by accident.
public enum PayloadPattern {
    /// Length of the cycle a load tester's messages are cut from. Prime, so
    /// message offsets derived from (client, message) spread over all of it.
    public static let period = 65_521

    /// `count` bytes of the pattern starting at `offset`.
    public static func bytes(count: Int, offset: Int = 0) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var result = [UInt8]()
        result.reserveCapacity(count)
        var position = 0
        while result.count < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            if position >= offset {
                result.append(UInt8(0x21 + state % 94))
            }
            position += 1
        }
        return result
    }

    /// Where message `message` of client `client` starts in a pattern
    /// buffer of `period + payloadSize` bytes: a different slice for
    /// neighbouring messages and clients, computable without any state.
    @inline(__always)
    public static func offset(client: Int, message: Int) -> Int {
        let mixed = (client &* 7_919 &+ message &* 104_729) & Int.max
        return mixed % period
    }
}

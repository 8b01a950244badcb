// Shared by the libFuzzer targets (mk/fuzz.mk compiles it into each one).

/// Traps with `message` when `condition` is false. Not `precondition`: in -O builds that
/// traps without printing its message, and a fuzz crash should say which property broke.
func check(_ condition: Bool, _ message: @autoclosure () -> String = "fuzz property violated") {
    if !condition { fatalError(message()) }
}

/// Tiny deterministic generator for split points (xorshift64*).
struct SplitRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next(below bound: Int) -> Int {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Int((state &* 0x2545_F491_4F6C_DD1D) >> 33) % bound
    }
}

/// A token bucket per source address (`--udp-rate`, datagrams/s, burst one
/// second's worth), in a table of fixed size: however many (spoofed)
/// sources send, memory stays `capacity` entries.
///
/// The table is open-addressed with a short probe sequence. A source not in
/// the table takes a free entry or one whose bucket is full again (idle for
/// at least a second: forgetting it loses nothing, a new bucket would be
/// full too). When every probed entry is busy, the source shares one
/// overflow bucket with all other such sources: a flood from many addresses
/// can neither grow the table nor reset a busy source's bucket, and what it
/// makes us send is bounded by one more rate's worth.
///
/// Confined to the datagram worker's thread; no allocation after `init`.
struct SourceRateLimiter {
    /// The key: an IPv4 address is stored v4-mapped, so the same host seen
    /// on a dual-stack socket and on an IPv4 one is one source.
    struct Key: Equatable {
        var high: UInt64
        var low: UInt64
    }

    private struct Entry {
        var key = Key(high: 0, low: 0)
        var used = false
        var tokens: Double = 0
        var lastNs: UInt64 = 0
    }

    static let capacity = 4096
    static let probes = 8

    let rate: Double
    let burst: Double
    private var entries: [Entry]
    private var overflow = Entry()
    /// Random per run, so nobody can aim sources at one probe sequence.
    private let seed: UInt64

    /// - Parameter rate: datagrams/s per source; 0 turns the limit off.
    init(rate: Double, seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.rate = rate
        self.burst = max(rate, 1)
        self.seed = seed
        entries = rate > 0 ? [Entry](repeating: Entry(), count: SourceRateLimiter.capacity) : []
        overflow.tokens = burst
    }

    var enabled: Bool { rate > 0 }

    /// Takes one token for `key` at `nowNs`; false: drop the datagram.
    mutating func admit(_ key: Key, nowNs: UInt64) -> Bool {
        guard enabled else { return true }
        let mask = SourceRateLimiter.capacity - 1
        var hash = (key.high ^ seed) &* 0x9E37_79B9_7F4A_7C15
        hash ^= key.low &* 0xC2B2_AE3D_27D4_EB4F
        hash ^= hash >> 29
        let start = Int(truncatingIfNeeded: hash) & mask
        var reusable = -1
        for probe in 0..<SourceRateLimiter.probes {
            let index = (start + probe) & mask
            if entries[index].used && entries[index].key == key {
                return SourceRateLimiter.take(&entries[index], rate: rate, burst: burst, nowNs: nowNs)
            }
            if reusable < 0 && (!entries[index].used || isIdle(entries[index], nowNs: nowNs)) { reusable = index }
        }
        if reusable >= 0 {
            entries[reusable] = Entry(key: key, used: true, tokens: burst, lastNs: nowNs)
            return SourceRateLimiter.take(&entries[reusable], rate: rate, burst: burst, nowNs: nowNs)
        }
        return SourceRateLimiter.take(&overflow, rate: rate, burst: burst, nowNs: nowNs)
    }

    /// Full again by now: the entry can be given to another source.
    private func isIdle(_ entry: Entry, nowNs: UInt64) -> Bool {
        let elapsed = Double(nowNs &- entry.lastNs) / 1e9
        return entry.tokens + elapsed * rate >= burst
    }

    private static func take(_ entry: inout Entry, rate: Double, burst: Double, nowNs: UInt64) -> Bool {
        if nowNs > entry.lastNs {
            entry.tokens = min(burst, entry.tokens + Double(nowNs - entry.lastNs) / 1e9 * rate)
            entry.lastNs = nowNs
        }
        if entry.tokens >= 1 {
            entry.tokens -= 1
            return true
        }
        return false
    }
}

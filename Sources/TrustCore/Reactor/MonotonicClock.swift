#if canImport(Glibc)
    import Glibc
#endif

/// Time for event loops: monotonic, immune to wall-clock jumps.
public enum MonotonicClock {
    /// Nanoseconds on CLOCK_MONOTONIC: precise, for latency measurement.
    @inlinable
    public static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// Milliseconds on CLOCK_MONOTONIC_COARSE: a few ms of resolution for the
    /// price of a memory read, which is all idle timeouts need. Loops read it
    /// once per wake-up, not per connection.
    @inlinable
    public static func coarseMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Int64(ts.tv_sec) &* 1000 &+ Int64(ts.tv_nsec) / 1_000_000
    }
}

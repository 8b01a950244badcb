#if canImport(Glibc)
    import Glibc
#endif

/// The process's descriptor limit, which sizes every loop's slot tables.
public enum DescriptorLimit {
    /// Servers and load generators hold a descriptor per connection: take
    /// the hard limit as the soft one and return it (capped at 2^20, the
    /// largest table a loop allocates).
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(min(limit.rlim_cur, 1 << 20))
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Fixed-size tables for event loops (connection slots, idle-list links),
/// allocated with calloc.
///
/// calloc returns zeroed memory aligned for any type, and the kernel maps
/// those pages lazily: a table sized for the descriptor limit costs RSS only
/// for the slots actually used. Free with `free()`.
enum ZeroedTable {
    /// A table whose elements are valid when zero: binding zeroed memory to
    /// `T` is safe because `T` is bitwise-copyable (no references, no
    /// destructors) and each such type is written so that all-zero bytes are
    /// a valid empty slot.
    static func allocate<T: BitwiseCopyable>(_: T.Type, count: Int, what: String) -> UnsafeMutablePointer<T> {
        allocateRaw(T.self, count: count, what: what)
    }

    /// Memory for `count` elements of any type, left uninitialised as far as
    /// Swift is concerned: the caller initialises an element before reading
    /// it and deinitialises it before reuse (see `ConnectionTable`).
    static func allocateRaw<T>(_: T.Type, count: Int, what: String) -> UnsafeMutablePointer<T> {
        let count = max(count, 1)
        guard let raw = calloc(count, MemoryLayout<T>.stride) else {
            fatalError("out of memory for \(count) \(what)")
        }
        return raw.bindMemory(to: T.self, capacity: count)
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Fixed-size tables of trivial structs for event loops (connection slots,
/// idle-list links), allocated with calloc.
///
/// calloc returns zeroed memory aligned for any type, and the kernel maps
/// those pages lazily: a table sized for the descriptor limit costs RSS only
/// for the slots actually used. Binding it to `T` is safe because `T` must
/// be trivial (checked), and each such type is written so that all-zero
/// bytes are a valid empty slot. Free with `free()`.
enum ZeroedTable {
    static func allocate<T>(_: T.Type, count: Int, what: String) -> UnsafeMutablePointer<T> {
        precondition(_isPOD(T.self), "ZeroedTable holds trivial types only")
        let count = max(count, 1)
        guard let raw = calloc(count, MemoryLayout<T>.stride) else {
            fatalError("out of memory for \(count) \(what)")
        }
        return raw.bindMemory(to: T.self, capacity: count)
    }
}

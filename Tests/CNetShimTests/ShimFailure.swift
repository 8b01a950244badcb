import CNetShim

/// A shim call that returned -errno where the test needed success; thrown so
/// the test stops at the first broken step with the call's name and errno.
struct ShimFailure: Error, CustomStringConvertible {
    let operation: String
    let code: Int

    var description: String {
        "\(operation) failed: \(ShimFailure.errnoName(code))"
    }

    static func errnoName(_ code: Int) -> String {
        String(cString: cnet_errno_name(Int32(truncatingIfNeeded: code)))
    }

    /// Returns a non-negative result unchanged, throws for -errno.
    @discardableResult
    static func check(_ result: Int32, _ operation: String) throws -> Int32 {
        if result < 0 { throw ShimFailure(operation: operation, code: Int(result)) }
        return result
    }
}

import CSodium

/// Comparisons whose running time does not depend on the content compared.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes. Lengths are not secret: different lengths
    /// return `false` at once.
    public static func equals<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        return withContiguousBytes(a) { left in
            withContiguousBytes(b) { right in equals(left, right) }
        }
    }

    /// Whether two raw buffers hold the same bytes.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        Sodium.ensureInitialized()
        guard a.count == b.count else { return false }
        guard a.count > 0, let left = a.baseAddress, let right = b.baseAddress else { return true }
        return sodium_memcmp(left, right, a.count) == 0
    }
}

import CSodium

/// The system's cryptographically secure random generator (libsodium `randombytes`).
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
        return result
    }

    /// A uniformly distributed value in `0 ..< upperBound` (no modulo bias).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        Sodium.ensureInitialized()
        return randombytes_uniform(upperBound)
    }

    /// A random 64-bit value.
    public static func uint64() -> UInt64 {
        bytes(count: 8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

/// Adapts ``SecureRandom`` to Swift's `RandomNumberGenerator`, for `shuffled(using:)` and friends.
public struct SecureRandomNumberGenerator: RandomNumberGenerator, Sendable {
    public init() {}
    public mutating func next() -> UInt64 { SecureRandom.uint64() }
}

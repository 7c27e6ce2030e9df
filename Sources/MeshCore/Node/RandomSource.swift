import MeshCrypto

/// The random generator a node draws from: secure in the daemon (ephemeral keys come from it),
/// seeded in the simulator and tests so that runs replay exactly.
public struct RandomSource: RandomNumberGenerator, @unchecked Sendable {
    private var base: any RandomNumberGenerator

    /// Wraps any generator.
    public init(_ base: some RandomNumberGenerator) { self.base = base }

    /// The system's cryptographically secure generator (libsodium).
    public static func secure() -> RandomSource { RandomSource(SecureRandomNumberGenerator()) }

    /// A deterministic generator.
    public static func seeded(_ seed: UInt64) -> RandomSource { RandomSource(SeededRandomNumberGenerator(seed: seed)) }

    public mutating func next() -> UInt64 { base.next() }
}

/// Anti-entropy helpers: members fall into 256 buckets by the top byte of their ID, and each
/// bucket has a hash, the XOR of a mix of (ID, record version, verdict class) over its members.
/// XOR makes the hash incremental (O(1) per change), so digests cost nothing to keep current.
public enum AntiEntropy {
    /// Number of buckets.
    public static let bucketCount = 256
    /// Buckets per digest message (128 × 8 bytes fits one datagram).
    public static let bucketsPerDigest = 128

    /// The bucket of `node`.
    public static func bucket(of node: NodeID) -> Int { Int(node.value >> 56) }

    /// The contribution of one member to its bucket's hash.
    public static func contribution(node: NodeID, version: UInt64, status: MemberStatus) -> UInt64 {
        mix(node.value ^ mix(version &+ 0x9E37_79B9_7F4A_7C15 &* (status.syncClass &+ 1)))
    }

    /// SplitMix64's finaliser: a fast, well-distributed 64-bit mix (not a cryptographic hash;
    /// records are verified by signature, the hash only finds differences).
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

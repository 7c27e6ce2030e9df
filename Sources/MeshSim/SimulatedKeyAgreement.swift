import MeshCore
import MeshCrypto

/// A stand-in for X25519 with the same sizes and the same message flow, for simulating tens of
/// thousands of nodes: a "public key" is a hash, and the "shared secret" is the hash of the two
/// public keys. It provides no secrecy at all and exists only in the simulator; everything else
/// in the channel (handshakes, key schedule, AEAD, replay windows) runs for real.
/// `meshsim --crypto real` uses X25519 instead.
public struct SimulatedKeyAgreement: KeyAgreement {
    /// Public keys of the cluster's identities, computed once and shared by every node (the
    /// function is the same; the table only saves recomputing it for each pair of nodes). Keyed
    /// by the identity key's first 8 bytes, which is cheaper to hash than the whole key.
    private let publicKeys: [UInt64: (identity: Ed25519PublicKey, publicKey: [UInt8])]

    /// A stand-in that computes every public key when asked.
    public init() { publicKeys = [:] }

    /// A stand-in with the public keys of `identities` computed up front.
    public init(identities: [Ed25519PublicKey]) {
        var keys: [UInt64: (identity: Ed25519PublicKey, publicKey: [UInt8])] = [:]
        keys.reserveCapacity(identities.count)
        for identity in identities { keys[Self.prefix(of: identity)] = (identity, Self.publicKey(of: identity)) }
        publicKeys = keys
    }

    private static func prefix(of identity: Ed25519PublicKey) -> UInt64 {
        identity.bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    private func lookUp(_ identity: Ed25519PublicKey) -> [UInt8] {
        if let entry = publicKeys[Self.prefix(of: identity)], entry.identity == identity { return entry.publicKey }
        return Self.publicKey(of: identity)
    }

    private static func publicKey(of identity: Ed25519PublicKey) -> [UInt8] {
        BLAKE2b.digest256(identity.bytes)
    }

    public func staticKeyPair(for identity: Ed25519PrivateKey) -> (secret: SecretBytes, publicKey: [UInt8]) {
        let key = lookUp(identity.publicKey)
        return (SecretBytes(copying: key), key)
    }

    public func staticPublicKey(for identity: Ed25519PublicKey) throws -> [UInt8] {
        lookUp(identity)
    }

    public func ephemeralKeyPair(using generator: inout RandomSource) -> (secret: SecretBytes, publicKey: [UInt8]) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in stride(from: 0, to: 32, by: 8) {
            let value = generator.next()
            for offset in 0..<8 { bytes[index + offset] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(offset))) }
        }
        return (SecretBytes(copying: bytes), bytes)
    }

    public func agree(_ secret: SecretBytes, _ peerPublic: [UInt8]) throws -> SecretBytes {
        // The "secret" is the node's own public key: hash the two keys, lower one first.
        let input = secret.withUnsafeBytes { mine in
            var input = [UInt8]()
            input.reserveCapacity(mine.count + peerPublic.count)
            if mine.lexicographicallyPrecedes(peerPublic) {
                input.append(contentsOf: mine)
                input.append(contentsOf: peerPublic)
            } else {
                input.append(contentsOf: peerPublic)
                input.append(contentsOf: mine)
            }
            return input
        }
        return SecretBytes(copying: BLAKE2b.digest256(input))
    }
}

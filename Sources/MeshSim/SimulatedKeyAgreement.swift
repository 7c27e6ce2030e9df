import MeshCore
import MeshCrypto

/// A stand-in for X25519 with the same sizes and the same message flow, for simulating tens of
/// thousands of nodes: a "public key" is a hash, and the "shared secret" is the hash of the two
/// public keys. It provides no secrecy at all and exists only in the simulator; everything else
/// in the channel (handshakes, key schedule, AEAD, replay windows) runs for real.
/// `meshsim --crypto real` uses X25519 instead.
public struct SimulatedKeyAgreement: KeyAgreement {
    public init() {}

    public func staticKeyPair(for identity: Ed25519PrivateKey) -> (secret: SecretBytes, publicKey: [UInt8]) {
        let key = BLAKE2b.digest256(identity.publicKey.bytes)
        return (SecretBytes(copying: key), key)
    }

    public func staticPublicKey(for identity: Ed25519PublicKey) throws -> [UInt8] {
        BLAKE2b.digest256(identity.bytes)
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
        let mine = secret.withUnsafeBytes { Array($0) }
        let (low, high) = mine.lexicographicallyPrecedes(peerPublic) ? (mine, peerPublic) : (peerPublic, mine)
        return SecretBytes(copying: BLAKE2b.digest256(low + high))
    }
}

import MeshCrypto

/// The channel's key schedule: an HKDF-style extract-and-expand built on keyed BLAKE2b (the
/// libsodium on Debian 12 has no HKDF). A chaining key absorbs each Diffie-Hellman result in
/// turn, as in the Noise framework.
enum KeyDerivation {
    /// The initial chaining key for `label` and `networkID`: every key derived from it is bound
    /// to the network.
    static func initialChainingKey(label: String, networkID: NetworkID) -> SecretBytes {
        SecretBytes(copying: BLAKE2b.digest256(Array(label.utf8) + [0] + networkID.bytes))
    }

    /// Mixes `input` into `chainingKey`; returns the next chaining key and a fresh key.
    static func mix(_ chainingKey: SecretBytes, _ input: [UInt8]) -> (chainingKey: SecretBytes, key: SymmetricKey) {
        let (first, second) = expand(chainingKey, input)
        return (first, SymmetricKey(derived: second))
    }

    /// Mixes a secret (a Diffie-Hellman result) and public context into the chaining key.
    static func mix(_ chainingKey: SecretBytes, secret: SecretBytes, _ publicInput: [UInt8]) -> (chainingKey: SecretBytes, key: SymmetricKey) {
        secret.withUnsafeBytes { mix(chainingKey, Array($0) + publicInput) }
    }

    /// Two keys from a secret and public context, in one derivation.
    static func pair(_ chainingKey: SecretBytes, secret: SecretBytes, _ publicInput: [UInt8]) -> (SymmetricKey, SymmetricKey) {
        let (first, second) = secret.withUnsafeBytes { expand(chainingKey, Array($0) + publicInput) }
        return (SymmetricKey(derived: first), SymmetricKey(derived: second))
    }

    /// The two transport keys from the final chaining key: initiator→responder, responder→initiator.
    static func transportKeys(_ chainingKey: SecretBytes) -> (initiatorToResponder: SymmetricKey, responderToInitiator: SymmetricKey) {
        let (first, second) = expand(chainingKey, Array("transport".utf8))
        return (SymmetricKey(derived: first), SymmetricKey(derived: second))
    }

    /// Extract `prk = BLAKE2b(key: chainingKey, input)`, expand `t1 = BLAKE2b(key: prk, 0x01)`,
    /// `t2 = BLAKE2b(key: prk, t1 || 0x02)`.
    private static func expand(_ chainingKey: SecretBytes, _ input: [UInt8]) -> (SecretBytes, SecretBytes) {
        let pseudoRandomKey = BLAKE2b.keyedDigest256(input, key: chainingKey)
        let first = BLAKE2b.keyedDigest256([UInt8(1)], key: pseudoRandomKey)
        let second = first.withUnsafeBytes { BLAKE2b.keyedDigest256(Array($0) + [2], key: pseudoRandomKey) }
        return (first, second)
    }
}

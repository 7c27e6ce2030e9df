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
        var input = concatenate(secret, publicInput)
        defer { wipe(&input) }
        return mix(chainingKey, input)
    }

    /// Two keys from a secret and public context, in one derivation.
    static func pair(_ chainingKey: SecretBytes, secret: SecretBytes, _ publicInput: [UInt8]) -> (SymmetricKey, SymmetricKey) {
        var input = concatenate(secret, publicInput)
        defer { wipe(&input) }
        let (first, second) = expand(chainingKey, input)
        return (SymmetricKey(derived: first), SymmetricKey(derived: second))
    }

    /// The two transport keys from the final chaining key: initiator→responder, responder→initiator.
    static func transportKeys(_ chainingKey: SecretBytes) -> (initiatorToResponder: SymmetricKey, responderToInitiator: SymmetricKey) {
        let (first, second) = expand(chainingKey, transportLabel)
        return (SymmetricKey(derived: first), SymmetricKey(derived: second))
    }

    /// Extract `prk = BLAKE2b(key: chainingKey, input)`, expand `t1 = BLAKE2b(key: prk, 0x01)`,
    /// `t2 = BLAKE2b(key: prk, t1 || 0x02)`.
    private static func expand(_ chainingKey: SecretBytes, _ input: [UInt8]) -> (SecretBytes, SecretBytes) {
        let pseudoRandomKey = BLAKE2b.keyedDigest256(input, key: chainingKey)
        let first = BLAKE2b.keyedDigest256(counterOne, key: pseudoRandomKey)
        var firstAndTwo = concatenate(first, counterTwo)
        defer { wipe(&firstAndTwo) }
        let second = BLAKE2b.keyedDigest256(firstAndTwo, key: pseudoRandomKey)
        return (first, second)
    }

    private static let counterOne: [UInt8] = [1]
    private static let counterTwo: [UInt8] = [2]
    private static let transportLabel = Array("transport".utf8)

    /// `secret ‖ tail` in one allocation. The caller wipes it after use.
    private static func concatenate(_ secret: SecretBytes, _ tail: [UInt8]) -> [UInt8] {
        secret.withUnsafeBytes { bytes in
            var joined = [UInt8]()
            joined.reserveCapacity(bytes.count + tail.count)
            joined.append(contentsOf: bytes)
            joined.append(contentsOf: tail)
            return joined
        }
    }

    /// Overwrites secret material held in an ordinary array.
    private static func wipe(_ bytes: inout [UInt8]) {
        for index in bytes.indices { bytes[index] = 0 }
    }
}

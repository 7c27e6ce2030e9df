import MeshCrypto

/// The Diffie-Hellman function the channel uses. Production uses ``X25519KeyAgreement``; the
/// simulator may substitute a cheaper function of identical sizes when it runs tens of thousands
/// of nodes (documented in docs/simulator.md). Everything else in the channel is unchanged.
public protocol KeyAgreement: Sendable {
    /// The node's static key pair, derived from its Ed25519 identity.
    func staticKeyPair(for identity: Ed25519PrivateKey) -> (secret: SecretBytes, publicKey: [UInt8])
    /// A peer's static public key, derived from its Ed25519 identity key.
    func staticPublicKey(for identity: Ed25519PublicKey) throws -> [UInt8]
    /// A fresh ephemeral key pair from `generator` (a secure generator in the daemon).
    func ephemeralKeyPair(using generator: inout RandomSource) -> (secret: SecretBytes, publicKey: [UInt8])
    /// The shared secret of `secret` and `peerPublic`; throws for weak keys.
    func agree(_ secret: SecretBytes, _ peerPublic: [UInt8]) throws -> SecretBytes
}

/// X25519 (RFC 7748) over libsodium; static keys are the identity keys mapped to Curve25519.
public struct X25519KeyAgreement: KeyAgreement {
    public init() {}

    public func staticKeyPair(for identity: Ed25519PrivateKey) -> (secret: SecretBytes, publicKey: [UInt8]) {
        let key = identity.x25519PrivateKey()
        return (key.secretBytes, key.publicKey.bytes)
    }

    public func staticPublicKey(for identity: Ed25519PublicKey) throws -> [UInt8] {
        try identity.x25519PublicKey().bytes
    }

    public func ephemeralKeyPair(using generator: inout RandomSource) -> (secret: SecretBytes, publicKey: [UInt8]) {
        let secret = SecretBytes(count: 32) { buffer in
            for index in 0..<buffer.count { buffer[index] = UInt8.random(in: 0...255, using: &generator) }
        }
        // 32 bytes always make a valid X25519 private key.
        guard let key = try? X25519PrivateKey(secret: secret) else { return (secret, []) }
        return (secret, key.publicKey.bytes)
    }

    public func agree(_ secret: SecretBytes, _ peerPublic: [UInt8]) throws -> SecretBytes {
        try X25519PrivateKey(secret: secret).sharedSecret(with: X25519PublicKey(bytes: peerPublic))
    }
}

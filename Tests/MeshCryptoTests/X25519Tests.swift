import MeshCrypto
import Testing

/// RFC 7748 §6.1 test vector and the properties WireGuard relies on.
@Suite struct X25519Tests {
    static let alicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
    static let alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    static let bobPrivate = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
    static let bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    static let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

    @Test func rfc7748KnownAnswer() throws {
        let alice = try X25519PrivateKey(secret: SecretBytes(copying: [UInt8](hex: Self.alicePrivate)))
        let bob = try X25519PrivateKey(secret: SecretBytes(copying: [UInt8](hex: Self.bobPrivate)))
        #expect(alice.publicKey.bytes.hex == Self.alicePublic)
        #expect(bob.publicKey.bytes.hex == Self.bobPublic)
        let ab = try alice.sharedSecret(with: bob.publicKey)
        let ba = try bob.sharedSecret(with: alice.publicKey)
        #expect(ab.withUnsafeBytes { Array($0).hex } == Self.shared)
        #expect(ab.constantTimeEquals(ba))
    }

    @Test func generatedKeysAreClampedLikeWgGenkey() {
        for _ in 0..<32 {
            let key = X25519PrivateKey()
            key.secretBytes.withUnsafeBytes { bytes in
                #expect(bytes[0] & 7 == 0)
                #expect(bytes[31] & 128 == 0)
                #expect(bytes[31] & 64 == 64)
            }
        }
    }

    @Test func base64RoundTrip() throws {
        let key = X25519PrivateKey()
        let text = key.base64EncodedSecret()
        #expect(text.count == 44 && text.hasSuffix("="))
        let parsed = try X25519PrivateKey(base64: text)
        #expect(parsed.publicKey == key.publicKey)
        #expect(try X25519PublicKey(base64: key.publicKey.base64) == key.publicKey)
    }

    @Test func rejectsMalformedText() {
        #expect(throws: CryptoError.invalidBase64(what: "a private key")) { try X25519PrivateKey(base64: "not a key!") }
        #expect(throws: CryptoError.invalidLength(what: "an X25519 private key", expected: 32, actual: 24)) {
            try X25519PrivateKey(base64: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        }
        #expect(throws: CryptoError.invalidBase64(what: "a public key")) { try X25519PublicKey(base64: "%%%") }
    }

    @Test func rejectsLowOrderPoint() throws {
        // The identity point: key agreement would yield all zeros.
        let zero = try X25519PublicKey(bytes: [UInt8](repeating: 0, count: 32))
        #expect(throws: CryptoError.weakPublicKey) { try X25519PrivateKey().sharedSecret(with: zero) }
    }
}

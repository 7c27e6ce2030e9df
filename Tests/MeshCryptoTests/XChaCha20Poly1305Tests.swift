import MeshCrypto
import Testing

/// draft-irtf-cfrg-xchacha-03 §A.3.1 and failure cases.
@Suite struct XChaCha20Poly1305Tests {
    static let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    static let additionalData = [UInt8](hex: "50515253c0c1c2c3c4c5c6c7")
    static let key = [UInt8](hex: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce = [UInt8](hex: "404142434445464748494a4b4c4d4e4f5051525354555657")
    static let ciphertext = [UInt8](hex: """
        bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c2\
        16cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e
        """)
    static let tag = [UInt8](hex: "c0875924c1c7987947deafd8780acf49")

    func vectorKey() throws -> SymmetricKey { try SymmetricKey(secret: SecretBytes(copying: Self.key)) }

    @Test func draftKnownAnswer() throws {
        let sealed = try XChaCha20Poly1305.seal(Self.plaintext, key: vectorKey(), nonce: Self.nonce, authenticating: Self.additionalData)
        #expect(sealed == Self.ciphertext + Self.tag)
        let opened = try XChaCha20Poly1305.open(sealed, key: vectorKey(), nonce: Self.nonce, authenticating: Self.additionalData)
        #expect(opened == Self.plaintext)
    }

    @Test func tamperedCiphertextFails() throws {
        let sealed = Self.ciphertext + Self.tag
        for index in [0, 57, sealed.count - 17, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 1
            #expect(throws: CryptoError.authenticationFailed) {
                try XChaCha20Poly1305.open(tampered, key: vectorKey(), nonce: Self.nonce, authenticating: Self.additionalData)
            }
        }
    }

    @Test func wrongKeyNonceOrDataFails() throws {
        let sealed = Self.ciphertext + Self.tag
        #expect(throws: CryptoError.authenticationFailed) {
            try XChaCha20Poly1305.open(sealed, key: SymmetricKey(), nonce: Self.nonce, authenticating: Self.additionalData)
        }
        var otherNonce = Self.nonce
        otherNonce[23] ^= 1
        #expect(throws: CryptoError.authenticationFailed) {
            try XChaCha20Poly1305.open(sealed, key: vectorKey(), nonce: otherNonce, authenticating: Self.additionalData)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try XChaCha20Poly1305.open(sealed, key: vectorKey(), nonce: Self.nonce)
        }
    }

    @Test func truncatedInputFails() throws {
        let sealed = Self.ciphertext + Self.tag
        for length in [0, 1, 15, 16, sealed.count - 1] {
            #expect(throws: CryptoError.authenticationFailed) {
                try XChaCha20Poly1305.open(sealed.prefix(length), key: vectorKey(), nonce: Self.nonce, authenticating: Self.additionalData)
            }
        }
        #expect(throws: CryptoError.invalidLength(what: "an XChaCha20-Poly1305 nonce", expected: 24, actual: 12)) {
            try XChaCha20Poly1305.open(sealed, key: vectorKey(), nonce: Array(Self.nonce.prefix(12)))
        }
    }

    @Test func emptyPlaintextRoundTrips() throws {
        let key = SymmetricKey(), nonce = SecureRandom.bytes(count: 24)
        let sealed = try XChaCha20Poly1305.seal([UInt8](), key: key, nonce: nonce)
        #expect(sealed.count == 16)
        #expect(try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce).isEmpty)
    }
}

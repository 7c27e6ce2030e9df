import CSodium

/// XChaCha20-Poly1305 (IETF construction, draft-irtf-cfrg-xchacha): authenticated encryption with
/// a 192-bit nonce, large enough to pick at random or to derive from a counter.
public enum XChaCha20Poly1305 {
    /// Length of the nonce.
    public static let nonceByteCount = 24
    /// Length of the authentication tag appended to every ciphertext.
    public static let tagByteCount = 16

    /// Encrypts `plaintext` and returns ciphertext followed by the 16-byte tag. `additionalData` is
    /// authenticated but not encrypted.
    public static func seal<P: Collection<UInt8>, A: Collection<UInt8>>(
        _ plaintext: P, key: SymmetricKey, nonce: [UInt8], authenticating additionalData: A
    ) throws -> [UInt8] {
        Sodium.ensureInitialized()
        try requireLength(nonce.count, nonceByteCount, "an XChaCha20-Poly1305 nonce")
        var output = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        var written: UInt64 = 0
        withContiguousBytes(plaintext) { message in
            withContiguousBytes(additionalData) { ad in
                key.secret.withUnsafeBytes { keyBytes in
                    output.withUnsafeMutableBufferPointer { target in
                        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                            target.nonNullBase, &written,
                            message.bytePointer, UInt64(message.count),
                            ad.bytePointer, UInt64(ad.count),
                            nil, nonce, keyBytes.bytePointer)
                    }
                }
            }
        }
        return output
    }

    /// Seals with no additional data.
    public static func seal<P: Collection<UInt8>>(_ plaintext: P, key: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, key: key, nonce: nonce, authenticating: [UInt8]())
    }

    /// Verifies and decrypts ciphertext-with-tag. Throws ``CryptoError/authenticationFailed`` for
    /// anything tampered, truncated, or sealed under another key, nonce or additional data.
    public static func open<C: Collection<UInt8>, A: Collection<UInt8>>(
        _ ciphertext: C, key: SymmetricKey, nonce: [UInt8], authenticating additionalData: A
    ) throws -> [UInt8] {
        Sodium.ensureInitialized()
        try requireLength(nonce.count, nonceByteCount, "an XChaCha20-Poly1305 nonce")
        guard ciphertext.count >= tagByteCount else { throw CryptoError.authenticationFailed }
        var output = [UInt8](repeating: 0, count: ciphertext.count - tagByteCount)
        var written: UInt64 = 0
        let status = withContiguousBytes(ciphertext) { sealed in
            withContiguousBytes(additionalData) { ad in
                key.secret.withUnsafeBytes { keyBytes in
                    output.withUnsafeMutableBufferPointer { target in
                        crypto_aead_xchacha20poly1305_ietf_decrypt(
                            target.nonNullBase, &written, nil,
                            sealed.bytePointer, UInt64(sealed.count),
                            ad.bytePointer, UInt64(ad.count),
                            nonce, keyBytes.bytePointer)
                    }
                }
            }
        }
        guard status == 0 else { throw CryptoError.authenticationFailed }
        return output
    }

    /// Opens with no additional data.
    public static func open<C: Collection<UInt8>>(_ ciphertext: C, key: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        try open(ciphertext, key: key, nonce: nonce, authenticating: [UInt8]())
    }
}

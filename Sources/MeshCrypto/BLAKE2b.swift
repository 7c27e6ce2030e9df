import CSodium

/// BLAKE2b (RFC 7693), plain and keyed, as libsodium's `crypto_generichash`.
public enum BLAKE2b {
    /// Shortest allowed output.
    public static let minimumOutputByteCount = 16
    /// Longest allowed output.
    public static let maximumOutputByteCount = 64
    /// Longest allowed key.
    public static let maximumKeyByteCount = 64

    /// The unkeyed hash of `data`, `outputByteCount` bytes long (16…64).
    public static func hash<D: Collection<UInt8>>(_ data: D, outputByteCount: Int = 32) throws -> [UInt8] {
        try digest(data, outputByteCount: outputByteCount, key: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// The keyed hash (a MAC or PRF) of `data` under a secret `key` of 1…64 bytes.
    public static func hash<D: Collection<UInt8>>(_ data: D, key: SecretBytes, outputByteCount: Int = 32) throws -> [UInt8] {
        guard (1...maximumKeyByteCount).contains(key.count) else {
            throw CryptoError.invalidLength(what: "a BLAKE2b key", expected: maximumKeyByteCount, actual: key.count)
        }
        return try key.withUnsafeBytes { try digest(data, outputByteCount: outputByteCount, key: $0) }
    }

    /// The keyed hash under a non-secret key (for example a public domain-separation label).
    public static func hash<D: Collection<UInt8>, K: Collection<UInt8>>(_ data: D, publicKey: K, outputByteCount: Int = 32) throws -> [UInt8] {
        guard (1...maximumKeyByteCount).contains(publicKey.count) else {
            throw CryptoError.invalidLength(what: "a BLAKE2b key", expected: maximumKeyByteCount, actual: publicKey.count)
        }
        return try withContiguousBytes(publicKey) { try digest(data, outputByteCount: outputByteCount, key: $0) }
    }

    /// Hashes `data` keyed by `key` straight into secret memory, for deriving keys.
    public static func deriveSecret<D: Collection<UInt8>>(_ data: D, key: SecretBytes, outputByteCount: Int = 32) throws -> SecretBytes {
        var output = try hash(data, key: key, outputByteCount: outputByteCount)
        defer { output.withUnsafeMutableBytes { if let base = $0.baseAddress { sodium_memzero(base, $0.count) } } }
        return SecretBytes(copying: output)
    }

    private static func digest<D: Collection<UInt8>>(
        _ data: D, outputByteCount: Int, key: UnsafeRawBufferPointer
    ) throws -> [UInt8] {
        Sodium.ensureInitialized()
        guard (minimumOutputByteCount...maximumOutputByteCount).contains(outputByteCount) else {
            throw CryptoError.invalidLength(what: "a BLAKE2b output", expected: 32, actual: outputByteCount)
        }
        var output = [UInt8](repeating: 0, count: outputByteCount)
        withContiguousBytes(data) { input in
            output.withUnsafeMutableBufferPointer { target in
                _ = crypto_generichash(
                    target.nonNullBase, target.count,
                    input.bytePointer, UInt64(input.count),
                    key.bytePointer, key.count)
            }
        }
        return output
    }
}

extension BLAKE2b {
    /// The 32-byte unkeyed digest of `data` (cannot fail: the length is fixed and valid).
    public static func digest256<D: Collection<UInt8>>(_ data: D) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        withContiguousBytes(data) { input in
            output.withUnsafeMutableBufferPointer { target in
                _ = crypto_generichash(target.nonNullBase, 32, input.bytePointer, UInt64(input.count), nil, 0)
            }
        }
        return output
    }

    /// The 32-byte keyed digest of `data` under `key`, written into secret memory: the building
    /// block of key derivation. `key` must hold 1 to 64 bytes (always true for derived keys).
    public static func keyedDigest256<D: Collection<UInt8>>(_ data: D, key: SecretBytes) -> SecretBytes {
        precondition((1...maximumKeyByteCount).contains(key.count), "BLAKE2b keys hold 1 to 64 bytes")
        return SecretBytes(count: 32) { target in
            withContiguousBytes(data) { input in
                key.withUnsafeBytes { keyBytes in
                    _ = crypto_generichash(target.bytePointer, 32, input.bytePointer, UInt64(input.count), keyBytes.bytePointer, keyBytes.count)
                }
            }
        }
    }
}

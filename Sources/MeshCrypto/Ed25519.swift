import CSodium

/// An Ed25519 public key (RFC 8032), used for node identities and the network authority.
public struct Ed25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// Length of the encoded key.
    public static let byteCount = 32
    /// Length of a signature.
    public static let signatureByteCount = 64

    /// The 32-byte encoding.
    public let bytes: [UInt8]

    /// Wraps an encoded key, checking only its length (validity is checked on verification).
    public init<Bytes: Collection<UInt8>>(bytes: Bytes) throws {
        try requireLength(bytes.count, Self.byteCount, "an Ed25519 public key")
        self.bytes = Array(bytes)
    }

    init(validBytes: [UInt8]) {
        self.bytes = validBytes
    }

    /// Whether `signature` is a valid signature of `message` by this key.
    public func isValidSignature<S: Collection<UInt8>, M: Collection<UInt8>>(_ signature: S, for message: M) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == Self.signatureByteCount else { return false }
        return withContiguousBytes(signature) { sig in
            withContiguousBytes(message) { msg in
                bytes.withUnsafeBufferPointer { key in
                    crypto_sign_verify_detached(sig.bytePointer, msg.bytePointer, UInt64(msg.count), key.nonNullBase) == 0
                }
            }
        }
    }

    /// The key in standard base64.
    public var base64: String { Base64.encode(bytes) }

    public var description: String { base64 }
}

/// An Ed25519 private key. Holds its seed and libsodium's expanded secret key in zeroing memory.
public struct Ed25519PrivateKey: Sendable {
    /// Length of the seed, the canonical private key form (RFC 8032).
    public static let seedByteCount = 32

    private let seed: SecretBytes
    private let secretKey: SecretBytes
    /// The matching public key.
    public let publicKey: Ed25519PublicKey

    /// A fresh random key.
    public init() {
        self.init(validSeed: .random(count: Self.seedByteCount))
    }

    /// Derives the key pair from a 32-byte seed.
    public init(seed: SecretBytes) throws {
        try requireLength(seed.count, Self.seedByteCount, "an Ed25519 seed")
        self.init(validSeed: seed)
    }

    private init(validSeed seed: SecretBytes) {
        Sodium.ensureInitialized()
        var publicBytes = [UInt8](repeating: 0, count: Ed25519PublicKey.byteCount)
        let secretKey = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { secret in
            seed.withUnsafeBytes { seedBytes in
                publicBytes.withUnsafeMutableBufferPointer { publicBuffer in
                    _ = crypto_sign_seed_keypair(publicBuffer.nonNullBase, secret.bytePointer, seedBytes.bytePointer)
                }
            }
        }
        self.seed = seed
        self.secretKey = secretKey
        self.publicKey = Ed25519PublicKey(validBytes: publicBytes)
    }

    /// The 64-byte signature of `message`.
    public func signature<M: Collection<UInt8>>(for message: M) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Ed25519PublicKey.signatureByteCount)
        withContiguousBytes(message) { msg in
            secretKey.withUnsafeBytes { secret in
                signature.withUnsafeMutableBufferPointer { sig in
                    _ = crypto_sign_detached(sig.nonNullBase, nil, msg.bytePointer, UInt64(msg.count), secret.bytePointer)
                }
            }
        }
        return signature
    }

    /// The seed, for storing the key. Handle with care.
    public var seedBytes: SecretBytes { seed }

    /// The X25519 private key that corresponds to this Ed25519 key (libsodium's birational map).
    public func x25519PrivateKey() -> X25519PrivateKey {
        let converted = SecretBytes(count: X25519PrivateKey.byteCount) { target in
            secretKey.withUnsafeBytes { secret in
                _ = crypto_sign_ed25519_sk_to_curve25519(target.bytePointer, secret.bytePointer)
            }
        }
        return X25519PrivateKey(validSecret: converted)
    }
}

extension Ed25519PublicKey {
    /// The X25519 public key corresponding to this Ed25519 key; fails for keys that are not
    /// valid curve points.
    public func x25519PublicKey() throws -> X25519PublicKey {
        var converted = [UInt8](repeating: 0, count: X25519PublicKey.byteCount)
        let status = bytes.withUnsafeBufferPointer { source in
            converted.withUnsafeMutableBufferPointer { target in
                crypto_sign_ed25519_pk_to_curve25519(target.nonNullBase, source.nonNullBase)
            }
        }
        guard status == 0 else { throw CryptoError.weakPublicKey }
        return X25519PublicKey(validBytes: converted)
    }
}

extension Ed25519PrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "Ed25519PrivateKey(public: \(publicKey), secret redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey]) }
}

import CSodium

/// An X25519 public key (RFC 7748). WireGuard public keys are exactly these; their text form is
/// standard base64, as printed by `wg pubkey`.
public struct X25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// Length of the key.
    public static let byteCount = 32

    /// The 32-byte encoding.
    public let bytes: [UInt8]

    /// Wraps an encoded key.
    public init<Bytes: Collection<UInt8>>(bytes: Bytes) throws {
        try requireLength(bytes.count, Self.byteCount, "an X25519 public key")
        self.bytes = Array(bytes)
    }

    init(validBytes: [UInt8]) {
        self.bytes = validBytes
    }

    /// Parses the base64 form used by wireguard-tools.
    public init(base64 text: String) throws {
        guard let decoded = Base64.decode(text) else { throw CryptoError.invalidBase64(what: "a public key") }
        try self.init(bytes: decoded)
    }

    /// The key in standard base64 (the `wg pubkey` format).
    public var base64: String { Base64.encode(bytes) }

    public var description: String { base64 }
}

/// An X25519 private key. WireGuard private keys are these; ``init()`` clamps the scalar the way
/// `wg genkey` does, so keys are interchangeable with wireguard-tools in both directions.
public struct X25519PrivateKey: Sendable {
    /// Length of the key.
    public static let byteCount = 32

    private let secret: SecretBytes
    /// The matching public key.
    public let publicKey: X25519PublicKey

    /// A fresh random, clamped key (as `wg genkey`).
    public init() {
        let secret = SecretBytes(count: Self.byteCount) { buffer in
            let base = buffer.bytePointer
            randombytes_buf(base, buffer.count)
            base[0] &= 248
            base[31] = (base[31] & 127) | 64
        }
        self.init(validSecret: secret)
    }

    /// Wraps 32 secret bytes. Any 32 bytes are a usable key: X25519 clamps when it multiplies.
    public init(secret: SecretBytes) throws {
        try requireLength(secret.count, Self.byteCount, "an X25519 private key")
        self.init(validSecret: secret)
    }

    /// Parses the base64 form written by `wg genkey`.
    public init(base64 text: String) throws {
        guard let decoded = Base64.decodeSecret(text) else { throw CryptoError.invalidBase64(what: "a private key") }
        try self.init(secret: decoded)
    }

    init(validSecret secret: SecretBytes) {
        Sodium.ensureInitialized()
        var publicBytes = [UInt8](repeating: 0, count: X25519PublicKey.byteCount)
        secret.withUnsafeBytes { scalar in
            publicBytes.withUnsafeMutableBufferPointer { target in
                _ = crypto_scalarmult_base(target.nonNullBase, scalar.bytePointer)
            }
        }
        self.secret = secret
        self.publicKey = X25519PublicKey(validBytes: publicBytes)
    }

    /// The raw shared secret with `peer` (RFC 7748 X25519). Rejects low-order points, which
    /// would make the result predictable. Hash it before using it as a key.
    public func sharedSecret(with peer: X25519PublicKey) throws -> SecretBytes {
        var failed = false
        let shared = SecretBytes(count: Self.byteCount) { target in
            secret.withUnsafeBytes { scalar in
                peer.bytes.withUnsafeBufferPointer { point in
                    failed = crypto_scalarmult(target.bytePointer, scalar.bytePointer, point.nonNullBase) != 0
                }
            }
        }
        guard !failed else { throw CryptoError.weakPublicKey }
        return shared
    }

    /// The secret bytes, for storing the key. Handle with care.
    public var secretBytes: SecretBytes { secret }

    /// The key in `wg genkey` format. The caller owns the text: do not log it.
    public func base64EncodedSecret() -> String { Base64.encode(secret) }
}

extension X25519PrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "X25519PrivateKey(public: \(publicKey), secret redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey]) }
}

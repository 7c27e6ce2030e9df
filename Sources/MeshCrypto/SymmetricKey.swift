/// A 256-bit secret key for the AEAD and keyed hashing.
public struct SymmetricKey: Sendable {
    /// Length of the key.
    public static let byteCount = 32

    /// The key material.
    public let secret: SecretBytes

    /// A fresh random key.
    public init() {
        secret = .random(count: Self.byteCount)
    }

    /// Wraps 32 secret bytes.
    public init(secret: SecretBytes) throws {
        try requireLength(secret.count, Self.byteCount, "a symmetric key")
        self.secret = secret
    }

    /// Wraps derived key material that is 32 bytes by construction (a KDF output).
    public init(derived secret: SecretBytes) {
        precondition(secret.count == Self.byteCount, "derived keys are 32 bytes")
        self.secret = secret
    }
}

extension SymmetricKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SymmetricKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

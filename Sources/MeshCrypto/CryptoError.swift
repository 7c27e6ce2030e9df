/// Failures of the cryptographic layer. None of them carries secret material.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key, nonce or signature had the wrong number of bytes.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// Ciphertext failed authentication: tampered, truncated, or opened with the wrong key, nonce or data.
    case authenticationFailed
    /// Key agreement produced the all-zero secret (a low-order public key).
    case weakPublicKey
    /// Text that should hold base64 did not decode.
    case invalidBase64(what: String)

    public var description: String {
        switch self {
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case .authenticationFailed:
            return "authentication failed: the data was tampered with, truncated, or sealed with another key"
        case .weakPublicKey:
            return "key agreement rejected a low-order public key"
        case let .invalidBase64(what):
            return "\(what) is not valid base64"
        }
    }
}

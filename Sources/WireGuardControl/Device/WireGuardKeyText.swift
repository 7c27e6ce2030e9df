import MeshCrypto

/// Reads WireGuard keys from text, reporting bad input as ``WireGuardControlError/malformedKey(what:reason:)``.
public enum WireGuardKeyText {
    /// Parses a public key in base64 (the `wg pubkey` format).
    public static func publicKey(base64 text: String) throws -> X25519PublicKey {
        guard let bytes = Base64.decode(text) else {
            throw WireGuardControlError.malformedKey(what: "public key \"\(text.prefix(60))\"", reason: "not valid base64")
        }
        return try publicKey(bytes: bytes, what: "public key \"\(text.prefix(60))\"")
    }

    /// Parses a private key in base64 (the `wg genkey` format). The text is never echoed in errors.
    public static func privateKey(base64 text: String) throws -> X25519PrivateKey {
        guard let secret = Base64.decodeSecret(text) else {
            throw WireGuardControlError.malformedKey(what: "private key", reason: "not valid base64")
        }
        guard secret.count == 32 else {
            throw WireGuardControlError.malformedKey(what: "private key", reason: "decodes to \(secret.count) bytes instead of 32")
        }
        do { return try X25519PrivateKey(secret: secret) } catch {
            throw WireGuardControlError.malformedKey(what: "private key", reason: "\(error)")
        }
    }

    /// Wraps 32 bytes as a public key.
    static func publicKey(bytes: some Collection<UInt8>, what: String) throws -> X25519PublicKey {
        guard bytes.count == 32 else {
            throw WireGuardControlError.malformedKey(what: what, reason: "\(bytes.count) bytes instead of 32")
        }
        do { return try X25519PublicKey(bytes: bytes) } catch {
            throw WireGuardControlError.malformedKey(what: what, reason: "\(error)")
        }
    }

    /// Parses 64 hexadecimal digits (the UAPI form) into 32 bytes.
    static func bytes(hex text: some Collection<UInt8>, what: String) throws -> [UInt8] {
        guard text.count == 64 else {
            throw WireGuardControlError.malformedKey(what: what, reason: "\(text.count) hexadecimal digits instead of 64")
        }
        var result = [UInt8]()
        result.reserveCapacity(32)
        var high: UInt8? = nil
        for character in text {
            guard let nibble = hexValue(character) else {
                throw WireGuardControlError.malformedKey(what: what, reason: "not hexadecimal")
            }
            if let h = high {
                result.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return result
    }

    /// Writes bytes as lowercase hexadecimal digits into `output`.
    static func appendHex(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        for byte in bytes {
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0xF)])
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

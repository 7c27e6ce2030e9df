import CSodium

/// Constant-time base64 (libsodium's codec), safe for keys and other secrets.
public enum Base64 {
    /// The alphabet and padding.
    public enum Variant: Sendable {
        /// RFC 4648 §4, with `=` padding: the format of `wg genkey`.
        case standard
        /// RFC 4648 §5 (`-` and `_`), without padding: for tokens pasted into shells and URLs.
        case urlSafeUnpadded

        var sodiumValue: Int32 {
            switch self {
            case .standard: return sodium_base64_VARIANT_ORIGINAL
            case .urlSafeUnpadded: return sodium_base64_VARIANT_URLSAFE_NO_PADDING
            }
        }
    }

    /// Encodes `bytes`.
    public static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes, variant: Variant = .standard) -> String {
        Sodium.ensureInitialized()
        return withContiguousBytes(bytes) { encode(raw: $0, variant: variant) }
    }

    /// Encodes a secret. The caller owns the returned text and should not log it.
    public static func encode(_ secret: SecretBytes, variant: Variant = .standard) -> String {
        Sodium.ensureInitialized()
        return secret.withUnsafeBytes { encode(raw: $0, variant: variant) }
    }

    /// Decodes `text`; `nil` when it is not valid base64 of this variant (surrounding
    /// whitespace is not accepted; trim first).
    public static func decode(_ text: String, variant: Variant = .standard) -> [UInt8]? {
        Sodium.ensureInitialized()
        let input = Array(text.utf8)
        var output = [UInt8](repeating: 0, count: input.count * 3 / 4 + 3)
        var written = 0
        var end: UnsafePointer<CChar>? = nil
        let status = input.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { chars in
                output.withUnsafeMutableBufferPointer { target in
                    sodium_base642bin(
                        target.nonNullBase, target.count, chars.baseAddress, chars.count,
                        nil, &written, &end, variant.sodiumValue)
                }
            }
        }
        guard status == 0 else { return nil }
        // sodium_base642bin stops at the first invalid character; require it consumed everything.
        let consumed = input.withUnsafeBufferPointer { source -> Int in
            guard let start = source.baseAddress, let end else { return -1 }
            return UnsafeRawPointer(end) - UnsafeRawPointer(start)
        }
        guard consumed == input.count else { return nil }
        return Array(output.prefix(written))
    }

    /// Decodes `text` directly into secret memory, for private keys.
    public static func decodeSecret(_ text: String, variant: Variant = .standard) -> SecretBytes? {
        guard var bytes = decode(text, variant: variant) else { return nil }
        defer { bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { sodium_memzero(base, $0.count) } } }
        return SecretBytes(copying: bytes)
    }

    private static func encode(raw: UnsafeRawBufferPointer, variant: Variant) -> String {
        let length = sodium_base64_encoded_len(raw.count, variant.sodiumValue)
        var output = [CChar](repeating: 0, count: length)
        output.withUnsafeMutableBufferPointer { target in
            guard let base = target.baseAddress else { return }  // never empty: room for the NUL
            _ = sodium_bin2base64(base, target.count, raw.bytePointer, raw.count, variant.sodiumValue)
        }
        return String(decoding: output.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

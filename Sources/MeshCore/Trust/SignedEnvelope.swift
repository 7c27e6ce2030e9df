import MeshCrypto

/// The one layout of every signed object (network settings, certificates, revocations, node records
/// and their tombstones): `body ‖ signature`, where the Ed25519 signature (64 bytes) covers the
/// domain's label, a zero byte and the body (``SignatureDomain``), so a signature made for one kind of
/// object can never pass as another. Each object writes and reads its own body; sealing, splitting
/// and verifying happen here only.
public struct SignedEnvelope: Sendable {
    /// What kind of object this is.
    public let domain: SignatureDomain
    /// The signed fields.
    public let body: ArraySlice<UInt8>
    /// The signature over the domain and the body.
    public let signature: ArraySlice<UInt8>

    /// Signs `body` in `domain` and returns the envelope's bytes, `body ‖ signature`.
    public static func seal(_ body: [UInt8], domain: SignatureDomain, with key: Ed25519PrivateKey) -> [UInt8] {
        body + domain.sign(body, with: key)
    }

    /// Splits `bytes` into body and signature without verifying anything: an object decodes its body
    /// first (to learn who should have signed it), then asks ``isSigned(by:)``.
    public init(opening bytes: [UInt8], domain: SignatureDomain, what: String) throws(WireError) {
        let bodyLength = bytes.count - Ed25519PublicKey.signatureByteCount
        guard bodyLength > 0 else { throw .truncated(what: what) }
        self.domain = domain
        body = bytes[..<bodyLength]
        signature = bytes[bodyLength...]
    }

    /// A reader over the body, for the object's own decoder (which must read it to its end).
    public func bodyReader(context: String) -> ByteReader {
        ByteReader(body, context: context)
    }

    /// Whether `key` signed this body in this domain.
    public func isSigned(by key: Ed25519PublicKey) -> Bool {
        domain.verify(signature, of: body, by: key)
    }
}

import MeshCore
import MeshCrypto
import Testing

@Suite("One signed envelope")
struct SignedEnvelopeTests {
    private let key = Ed25519PrivateKey()
    private let body: [UInt8] = Array("a body".utf8)

    @Test("sealed bytes are the body then a signature that only this domain and key accept")
    func sealAndOpen() throws {
        let bytes = SignedEnvelope.seal(body, domain: .revocation, with: key)
        #expect(bytes.count == body.count + Ed25519PublicKey.signatureByteCount)
        let envelope = try SignedEnvelope(opening: bytes, domain: .revocation, what: "test")
        #expect(Array(envelope.body) == body)
        #expect(envelope.isSigned(by: key.publicKey))
        #expect(!envelope.isSigned(by: Ed25519PrivateKey().publicKey))
        for other in [SignatureDomain.certificate, .networkSettings, .nodeRecord] {
            #expect(!(try SignedEnvelope(opening: bytes, domain: other, what: "test")).isSigned(by: key.publicKey), "\(other)")
        }
        for index in bytes.indices {
            var changed = bytes
            changed[index] ^= 0x01
            #expect(!(try SignedEnvelope(opening: changed, domain: .revocation, what: "test")).isSigned(by: key.publicKey))
        }
    }

    @Test("bytes too short for a body and a signature are truncated, never a trap")
    func tooShort() {
        for count in [0, 1, Ed25519PublicKey.signatureByteCount] {
            #expect(throws: WireError.truncated(what: "test")) {
                try SignedEnvelope(opening: Array(repeating: 0, count: count), domain: .nodeRecord, what: "test")
            }
        }
    }
}

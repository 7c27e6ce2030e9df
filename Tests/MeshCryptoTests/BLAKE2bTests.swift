import MeshCrypto
import Testing

/// RFC 7693 Appendix A and the reference implementation's keyed known-answer vectors.
@Suite struct BLAKE2bTests {
    @Test func rfc7693Abc() throws {
        let digest = try BLAKE2b.hash(Array("abc".utf8), outputByteCount: 64)
        #expect(digest.hex == """
            ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923
            """)
    }

    /// blake2b-kat.txt from the BLAKE2 reference: key 00…3f, inputs of length 0 and 1.
    @Test func referenceKeyedVectors() throws {
        let key = SecretBytes(copying: (0..<64).map { UInt8($0) })
        #expect(try BLAKE2b.hash([UInt8](), key: key, outputByteCount: 64).hex == """
            10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568
            """)
        #expect(try BLAKE2b.hash([UInt8(0)], key: key, outputByteCount: 64).hex == """
            961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd
            """)
    }

    @Test func keyChangesDigestAndLengthsAreChecked() throws {
        let data = Array("meshwork".utf8)
        let plain = try BLAKE2b.hash(data)
        let keyed = try BLAKE2b.hash(data, key: SecretBytes.random(count: 32))
        #expect(plain.count == 32 && keyed.count == 32 && plain != keyed)
        #expect(throws: CryptoError.self) { try BLAKE2b.hash(data, outputByteCount: 8) }
        #expect(throws: CryptoError.self) { try BLAKE2b.hash(data, outputByteCount: 65) }
        #expect(throws: CryptoError.self) { try BLAKE2b.hash(data, key: SecretBytes.random(count: 65)) }
    }
}

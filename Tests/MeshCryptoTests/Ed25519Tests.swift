import MeshCrypto
import Testing

/// RFC 8032 §7.1 test vectors (Ed25519, tests 1–3).
@Suite struct Ed25519Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let seed: String, publicKey: String, message: String, signature: String
        var testDescription: String { "message of \(message.count / 2) bytes" }
    }

    static let rfc8032: [Vector] = [
        Vector(
            seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        Vector(
            seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        Vector(
            seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    @Test(arguments: rfc8032)
    func knownAnswer(_ vector: Vector) throws {
        let key = try Ed25519PrivateKey(seed: SecretBytes(copying: [UInt8](hex: vector.seed)))
        #expect(key.publicKey.bytes.hex == vector.publicKey)
        let signature = key.signature(for: [UInt8](hex: vector.message))
        #expect(signature.hex == vector.signature)
        #expect(key.publicKey.isValidSignature(signature, for: [UInt8](hex: vector.message)))
    }

    @Test func rejectsTamperedMessageAndSignature() throws {
        let key = Ed25519PrivateKey()
        let message = Array("announce 192.0.2.1:51820".utf8)
        let signature = key.signature(for: message)
        #expect(key.publicKey.isValidSignature(signature, for: message))

        var tamperedMessage = message
        tamperedMessage[0] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: tamperedMessage))

        for index in [0, 31, 32, 63] {
            var tamperedSignature = signature
            tamperedSignature[index] ^= 0x80
            #expect(!key.publicKey.isValidSignature(tamperedSignature, for: message))
        }
        #expect(!key.publicKey.isValidSignature(signature.dropLast(), for: message))
        #expect(!key.publicKey.isValidSignature([UInt8](), for: message))
        #expect(!Ed25519PrivateKey().publicKey.isValidSignature(signature, for: message))
    }

    @Test func rejectsWrongLengths() {
        #expect(throws: CryptoError.invalidLength(what: "an Ed25519 seed", expected: 32, actual: 31)) {
            try Ed25519PrivateKey(seed: SecretBytes(copying: [UInt8](repeating: 1, count: 31)))
        }
        #expect(throws: CryptoError.invalidLength(what: "an Ed25519 public key", expected: 32, actual: 33)) {
            try Ed25519PublicKey(bytes: [UInt8](repeating: 1, count: 33))
        }
    }

    @Test func seedRoundTripsAndDescriptionIsRedacted() throws {
        let key = Ed25519PrivateKey()
        let again = try Ed25519PrivateKey(seed: key.seedBytes)
        #expect(again.publicKey == key.publicKey)
        let seedHex = key.seedBytes.withUnsafeBytes { Array($0).hex }
        for text in [String(describing: key), String(reflecting: key), "\(key.seedBytes)", String(reflecting: key.seedBytes)] {
            #expect(!text.contains(seedHex))
            #expect(text.contains("redacted"))
        }
    }

    @Test func convertsToX25519ForKeyAgreement() throws {
        let alice = Ed25519PrivateKey(), bob = Ed25519PrivateKey()
        let aliceX = alice.x25519PrivateKey(), bobX = bob.x25519PrivateKey()
        #expect(try alice.publicKey.x25519PublicKey() == aliceX.publicKey)
        let ab = try aliceX.sharedSecret(with: bob.publicKey.x25519PublicKey())
        let ba = try bobX.sharedSecret(with: alice.publicKey.x25519PublicKey())
        #expect(ab.constantTimeEquals(ba))
    }
}

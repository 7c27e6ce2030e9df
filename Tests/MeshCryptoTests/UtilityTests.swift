import MeshCrypto
import Testing

@Suite struct UtilityTests {
    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
    }

    @Test func randomBytesDiffer() {
        let a = SecureRandom.bytes(count: 32), b = SecureRandom.bytes(count: 32)
        #expect(a.count == 32 && a != b)
        #expect((0..<100).allSatisfy { _ in SecureRandom.uniform(10) < 10 })
    }

    @Test func base64Variants() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xfe, 0x00]
        #expect(Base64.encode(bytes) == "+//+AA==")
        #expect(Base64.encode(bytes, variant: .urlSafeUnpadded) == "-__-AA")
        #expect(Base64.decode("+//+AA==") == bytes)
        #expect(Base64.decode("-__-AA", variant: .urlSafeUnpadded) == bytes)
        #expect(Base64.decode("+//+AA== trailing") == nil)
        #expect(Base64.decode("*") == nil)
    }

    @Test func secretDescriptionsAreRedacted() {
        let secret = SecretBytes(copying: Array("hunter2-hunter2".utf8))
        #expect(!"\(secret)".contains("hunter2"))
        #expect(!String(reflecting: secret).contains("hunter2"))
        #expect(!"\(SymmetricKey())".contains("0x"))
    }
}

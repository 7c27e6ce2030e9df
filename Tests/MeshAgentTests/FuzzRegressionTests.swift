import MeshAgent
import MeshCore
import MeshCrypto
import Testing

/// Inputs the fuzz targets in Fuzz/ found (scripts/fuzz), kept as regression tests.
@Suite("Fuzzing regressions (agent)")
struct FuzzRegressionTests {
    let settings = try! NetworkSettings(
        networkID: NetworkID(bytes: [UInt8](repeating: 0x4D, count: NetworkID.byteCount))!, name: "fuzznet", authority: Ed25519PrivateKey(),
        ipv4Prefix: IPPrefix("100.80.0.0/16")!, ipv6Prefix: nil, gossipPort: 51821, wireGuardPort: 51820, createdAt: 1_800_000_000)

    /// members-db: a revocation count larger than the file made the loader spin once per counted
    /// revocation (a truncated read was swallowed with the decoding error); a count of 0x11000000
    /// hung meshd's start. The truncation must be an error, so the damaged file is set aside.
    @Test("a members.db counting more revocations than it holds is refused, not looped over")
    func revocationCountBeyondTheFile() {
        var writer = ByteWriter()
        writer.write(raw: Array("MWMS".utf8))
        writer.write(UInt8(1))
        writer.write(UInt64(0))
        writer.write(UInt32(0))  // members
        writer.write(UInt32(100_000))  // revocations, none present
        #expect(throws: WireError.self) {
            try MemberSnapshot(decoding: writer.bytes, settings: settings, now: Timestamp(seconds: 1_800_000_000))
        }
    }
}

/// The public entry points the fuzz targets use run the agent's decoders.
@Suite("AgentDecoding (fuzzing entry points)")
struct AgentDecodingTests {
    @Test("a relay grant decodes and encodes back to its bytes; unknown types and short bodies are ignored")
    func relayMessages() {
        var body = ByteWriter()
        body.write(UInt32(9))
        body.write(NodeID(0x0102_0304_0506_0708))
        body.write(UInt16(40001))
        body.write(UInt16(120))
        let decoded = AgentDecoding.reencodedRelayMessage(type: 0x27, body: body.bytes)
        #expect(decoded?.type == 0x27)
        #expect(decoded?.body == body.bytes)
        #expect(AgentDecoding.reencodedRelayMessage(type: 0x3F, body: body.bytes) == nil)
        #expect(AgentDecoding.reencodedRelayMessage(type: 0x27, body: Array(body.bytes.dropLast())) == nil)
    }

    @Test("YAML: a mapping parses; an anchor is a syntax error")
    func yaml() throws {
        #expect(try AgentDecoding.parseYAML("gossip:\n  port: 51821\n"))
        #expect(try !AgentDecoding.parseYAML("# only a comment\n"))
        #expect(throws: (any Error).self) { try AgentDecoding.parseYAML("a: &anchor 1\n") }
    }
}

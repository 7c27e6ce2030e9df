@testable import MeshCore
import MeshCrypto
import Testing

@Suite struct InvitationTokenTests {
    let network = TestNetwork()

    func token(expiresAt: UInt64? = nil) throws -> InvitationToken {
        try InvitationToken(
            networkID: network.settings.networkID, networkName: "testnet", authorityKey: network.authority.publicKey,
            bootstrapKey: Ed25519PrivateKey().publicKey,
            bootstrapEndpoints: [SocketEndpoint("192.0.2.1:51821")!, SocketEndpoint("[2001:db8::1]:51821")!],
            secret: SecureRandom.bytes(count: 32), expiresAt: expiresAt ?? network.now.seconds + 3600, nodeName: "web-1")
    }

    @Test func roundTripsThroughText() throws {
        let original = try token()
        let text = original.text
        #expect(text.hasPrefix("mw1-"))
        #expect(text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(try InvitationToken(text: text) == original)
        // Whitespace from line wrapping in a terminal is tolerated.
        let wrapped = text.prefix(40) + "\n  " + text.dropFirst(40) + "\n"
        #expect(try InvitationToken(text: String(wrapped)) == original)
    }

    @Test func typosAreCaughtByTheChecksum() throws {
        let text = try token().text
        var characters = Array(text)
        for index in [10, 50, characters.count - 3] {
            let original = characters[index]
            characters[index] = original == "A" ? "B" : "A"
            do {
                _ = try InvitationToken(text: String(characters))
                Issue.record("accepted a typo at \(index)")
            } catch {
                #expect("\(error)".contains("checksum") || "\(error)".contains("damaged"), "\(error)")
            }
            characters[index] = original
        }
    }

    @Test func truncatedForeignAndGarbledTokensExplainThemselves() throws {
        let text = try token().text
        #expect { try InvitationToken(text: String(text.dropLast(10))) } throws: { "\($0)".contains("copy it again") }
        #expect { try InvitationToken(text: "hello") } throws: { "\($0)".contains("not a Meshwork invitation token") }
        #expect { try InvitationToken(text: "mw2-" + text.dropFirst(4)) } throws: { "\($0)".contains("newer or older Meshwork") }
        #expect { try InvitationToken(text: "mw1-!!!!") } throws: { "\($0)".contains("damaged") }
    }

    @Test("a token cut off anywhere says so, never that it holds foreign characters")
    func truncationSaysCutOff() throws {
        let text = try token().text
        for dropped in 1...12 {
            #expect { try InvitationToken(text: String(text.dropLast(dropped))) } throws: { "\($0)".contains("cut off") }
        }
    }

    @Test func expiredTokenIsRefusedBeforeContactingAnyone() throws {
        let expired = try token(expiresAt: network.now.seconds - 7200)
        var random = RandomSource.seeded(1)
        #expect {
            try JoinClient(token: expired, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        } throws: { "\($0)".contains("the token expired 2 h ago") }
    }
}

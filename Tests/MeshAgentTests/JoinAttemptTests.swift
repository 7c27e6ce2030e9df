@testable import MeshAgentCore
import MeshCore
import MeshCrypto
import Testing

/// `meshctl join` resends its request every second with fresh bytes and gives up after 15 s,
/// saying what it tried; stray datagrams settle nothing.
@Suite struct JoinAttemptTests {
    let start = Timestamp(seconds: 1_800_000_000)
    let bootstrap = [SocketEndpoint("192.0.2.1:51821")!, SocketEndpoint("[2001:db8::1]:51821")!]

    func attempt() throws -> JoinAttempt {
        let token = try InvitationToken(
            networkID: NetworkID(bytes: [UInt8](repeating: 7, count: 16))!, networkName: "demo", authorityKey: Ed25519PrivateKey().publicKey,
            bootstrapKey: Ed25519PrivateKey().publicKey, bootstrapEndpoints: bootstrap,
            secret: [UInt8](repeating: 1, count: InvitationToken.secretLength), expiresAt: start.seconds + 3600, nodeName: "web-1")
        var random = RandomSource.seeded(1)
        let client = try JoinClient(token: token, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: start, random: &random)
        return JoinAttempt(client: client, now: start)
    }

    @Test func theRequestGoesAgainEverySecondWithFreshBytes() throws {
        var join = try attempt()
        var random = RandomSource.seeded(2)
        let first = join.firstDatagrams
        #expect(first.map(\.endpoint) == bootstrap)
        let early = join.tick(now: start + .milliseconds(999), random: &random)
        #expect(early.isEmpty)
        #expect(join.nextDeadline == start + .seconds(1))
        let again = join.tick(now: start + .seconds(1), random: &random)
        #expect(again.map(\.endpoint) == bootstrap)
        #expect(again.map(\.bytes) != first.map(\.bytes), "the bootstrap node refuses the same bytes as a replay")
        #expect(join.attempts == 2)
    }

    @Test func withoutAnAnswerItGivesUpAfterFifteenSecondsSayingWhatItTried() throws {
        var join = try attempt()
        var random = RandomSource.seeded(3)
        var clock = start
        while join.outcome == nil, clock < start + .seconds(20) {
            clock = join.nextDeadline ?? clock
            _ = join.tick(now: clock, random: &random)
        }
        #expect(clock == start + .seconds(15))
        guard case let .refused(reason)? = join.outcome else { Issue.record("did not give up"); return }
        #expect(reason.contains("192.0.2.1:51821") && reason.contains("[2001:db8::1]:51821") && reason.contains("15 attempts in 15 s"))
        let after = join.tick(now: clock + .seconds(1), random: &random)
        #expect(after.isEmpty && join.nextDeadline == nil)
    }

    @Test func strayDatagramsSettleNothing() throws {
        var join = try attempt()
        let short = join.receive([0x01, 0x02, 0x03], from: bootstrap[0])
        let stranger = join.receive([UInt8](repeating: 0xFF, count: 200), from: SocketEndpoint("203.0.113.9:51821")!)
        #expect(!short && !stranger)
        #expect(join.outcome == nil)
    }
}

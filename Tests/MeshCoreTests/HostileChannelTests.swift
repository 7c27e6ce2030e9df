@testable import MeshCore
import MeshCrypto
import Testing

/// Certificates and handshakes: expiry while running, cheap checks before signatures, per-source
/// limits, freshness and replay across restarts.
@Suite struct HostileChannelTests {
    let network = TestNetwork()
    let victimAt = SocketEndpoint("192.0.2.1:51821")!

    @Test func aMemberWhoseCertificateExpiresIsRemovedAndItsDatagramsDropped() {
        let victimNode = network.node(1), expiring = network.node(2, notAfter: network.now.seconds + 30), other = network.node(3)
        let victim = network.meshNode(victimNode, members: [expiring, other])
        let hostile = HostileMember(expiring, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        hostile.send([.ping(sequence: 1, target: victimNode.id)], now: network.now)
        #expect(hostile.receivedMessages.contains(.ack(sequence: 1)))
        // Within a minute of expiry the member is gone (the check runs every 10 s).
        var now = network.now
        var removedAt: Timestamp?
        while now < network.now + .seconds(120), removedAt == nil {
            now = now + .seconds(1)
            victim.tick(now: now)
            if victim.members[expiring.id] == nil { removedAt = now }
        }
        let removed = removedAt ?? .distantFuture
        #expect(removed.seconds > expiring.certificate.notAfter)
        #expect(removed.seconds <= expiring.certificate.notAfter + 60)
        #expect(victim.drainOutput().events.contains(.memberForgotten(expiring.id)))
        #expect(victim.members[other.id] != nil)
        // Its datagrams are dropped: its sessions are gone, and a new handshake is counted.
        hostile.send([.ping(sequence: 2, target: victimNode.id)], now: now)
        #expect(!hostile.receivedMessages.contains(.ack(sequence: 2)))
        let fresh = HostileMember(expiring, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, seed: 8)
        fresh.send([.ping(sequence: 3, target: victimNode.id)], now: now)
        #expect(!fresh.receivedMessages.contains(.ack(sequence: 3)))
        #expect(victim.drops[.expiredCertificate] == 1)
        // Gossip about it (its certificate and a new record) does not bring it back.
        let relay = HostileMember(other, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, source: SocketEndpoint("192.0.2.3:51821")!)
        relay.send([.member(certificate: expiring.certificate.encoded, record: network.record(for: expiring, version: 9).encoded)], now: now)
        #expect(victim.members[expiring.id] == nil)
        #expect(victim.drops[.expiredCertificate] == 2)
    }

    @Test func anExpiredSessionMemberIsDroppedAtOnceOnItsNextDatagram() {
        let victimNode = network.node(1), expiring = network.node(2, notAfter: network.now.seconds + 5)
        let victim = network.meshNode(victimNode, members: [expiring])
        let hostile = HostileMember(expiring, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        hostile.send([.ping(sequence: 1, target: victimNode.id)], now: network.now)
        let later = network.now + .seconds(6)  // before the periodic check
        hostile.send([.ping(sequence: 2, target: victimNode.id)], now: later)
        #expect(!hostile.receivedMessages.contains(.ack(sequence: 2)))
        #expect(victim.drops[.expiredCertificate] == 1)
        #expect(victim.members[expiring.id] == nil)
    }

    /// Self-signed certificates cost no signature check and no share of the shared budget.
    @Test func aStreamOfSelfSignedCertificatesDoesNotLockOutNewcomers() {
        let victimNode = network.node(1)
        let victim = network.meshNode(victimNode)
        for index in 0..<60 {
            let rogue = network.node(100 + index, issuer: Ed25519PrivateKey())
            let attacker = HostileMember(rogue, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network,
                                         source: SocketEndpoint("198.51.100.\(index % 250 + 1):4000")!)
            attacker.send([.ping(sequence: 1, target: victimNode.id)], now: network.now, includeCertificate: true)
        }
        #expect(victim.drops[.foreignCertificate] == 60)
        #expect(victim.drops[.rateLimited] == 0)
        let newcomer = network.node(7)
        let joining = HostileMember(newcomer, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network,
                                    source: SocketEndpoint("203.0.113.7:51821")!)
        joining.send([.ping(sequence: 5, target: victimNode.id)], now: network.now, includeCertificate: true)
        #expect(joining.receivedMessages.contains(.ack(sequence: 5)))
    }

    /// One source address gets a few certificate checks; other newcomers still get in.
    @Test func oneSourceCannotUseUpTheCertificateBudget() {
        let victimNode = network.node(1)
        let victim = network.meshNode(victimNode)
        let crowded = SocketEndpoint("198.51.100.1:4000")!
        for index in 0..<60 {
            let genuine = network.node(100 + index)
            let sender = HostileMember(genuine, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, source: crowded)
            sender.send([.ping(sequence: 1, target: victimNode.id)], now: network.now, includeCertificate: true)
        }
        #expect(victim.drops[.rateLimited] > 0)
        let newcomer = network.node(7)
        let joining = HostileMember(newcomer, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network,
                                    source: SocketEndpoint("203.0.113.7:51821")!)
        joining.send([.ping(sequence: 5, target: victimNode.id)], now: network.now, includeCertificate: true)
        #expect(joining.receivedMessages.contains(.ack(sequence: 5)))
    }

    func restarted(_ node: TestNetwork.Node, members: [TestNetwork.Node], replayState: ChannelReplayState, now: Timestamp) throws -> MeshNode {
        var table = MemberTable()
        for member in members {
            table.put(Member(certificate: member.certificate, record: network.record(for: member, version: 1), status: .alive, statusChangedAt: now))
        }
        return try MeshNode(
            identity: node.identity, certificate: node.certificate, settings: network.settings,
            announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, victimAt)]), members: table,
            replayState: replayState, newcomer: false, random: .seeded(9), now: now)
    }

    @Test func initiationsAndOneShotsReplayedAfterARestartAreRefused() throws {
        let victimNode = network.node(1), mallory = network.node(2)
        let victim = network.meshNode(victimNode, members: [mallory])
        let sender = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        let initiation = sender.datagrams(for: [.ping(sequence: 1, target: victimNode.id)], now: network.now)
        let oneShot = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, seed: 5)
            .datagrams(for: [.ping(sequence: 2, target: victimNode.id)], now: network.now, oneShot: true)
        sender.deliver(initiation + oneShot, now: network.now)
        #expect(victim.drops.total == 0)
        let later = network.now + .seconds(30)
        let saved = victim.replayState(now: later)
        let again = try restarted(victimNode, members: [mallory], replayState: saved, now: later)
        let replayer = HostileMember(mallory, victim: again, victimIdentity: victimNode.identity.publicKey, network: network)
        replayer.deliver(initiation + oneShot, now: later)
        #expect(again.drops[.replayedHandshake] == 1)
        #expect(again.drops[.replayedOneShot] == 1)
        #expect(replayer.replies.isEmpty)
    }

    @Test func timestampsOutsideTheFreshnessWindowAreRefused() {
        let victimNode = network.node(1), mallory = network.node(2)
        let victim = network.meshNode(victimNode, members: [mallory])
        let sender = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        let window = ChannelSettings().freshnessWindow
        // Captured long ago (or a sender whose clock is far behind), and far ahead.
        let old = sender.datagrams(for: [.ping(sequence: 1, target: victimNode.id)], now: Timestamp(nanoseconds: network.now.nanoseconds - window.nanoseconds - 1_000_000_000))
        sender.deliver(old, now: network.now)
        #expect(victim.drops[.staleTimestamp] == 1)
        let ahead = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, seed: 3)
        ahead.deliver(ahead.datagrams(for: [.ping(sequence: 1, target: victimNode.id)], now: network.now + window + .seconds(1), oneShot: true), now: network.now)
        #expect(victim.drops[.staleTimestamp] == 2)
        #expect(sender.replies.isEmpty && ahead.replies.isEmpty)
    }

    /// A sender restarted with its clock stepped back reuses timestamps, but never a key and
    /// nonce pair: one-shot nonces are random.
    @Test func aClockSteppedBackNeverRepeatsAOneShotNonce() {
        let victimNode = network.node(1), mallory = network.node(2)
        let victim = network.meshNode(victimNode, members: [mallory])
        let before = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, seed: 1)
        let after = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, seed: 1)
        let first = before.datagrams(for: [.ping(sequence: 1, target: victimNode.id)], now: network.now, oneShot: true)[0].bytes
        let second = after.datagrams(for: [.ping(sequence: 1, target: victimNode.id)], now: network.now, oneShot: true)[0].bytes
        let header = SecureChannel.oneShotHeaderLength
        #expect(first[18..<26] == second[18..<26])  // same timestamp
        #expect(first[26..<header] != second[26..<header])  // different nonce
        #expect(first[header...] != second[header...])
        // The receiver takes the first and refuses the repeat of its timestamp.
        before.deliver([OutboundDatagram(bytes: first, endpoint: victimAt), OutboundDatagram(bytes: second, endpoint: victimAt)], now: network.now)
        #expect(victim.drops[.replayedOneShot] == 1)
    }
}

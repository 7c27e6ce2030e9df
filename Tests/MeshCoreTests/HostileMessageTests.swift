@testable import MeshCore
import MeshCrypto
import Testing

/// Every message type, with extreme and forged contents, from a real member through the real
/// channel: the victim never traps, keeps its state sane and counts what it refuses.
@Suite struct HostileMessageTests {
    let network = TestNetwork()

    static let versions: [UInt64] = [0, 1, .max, .max - 1, RecordVersion.clockVersion(at: TestNetwork().now) + 365 * 86_400_000]

    func everyMessage(victim: NodeID, hostile: HostileMember, other: TestNetwork.Node) -> [[Message]] {
        let unknown = NodeID(0xDEAD_BEEF_0000_0001)
        let ids = [victim, hostile.member.id, other.id, unknown, NodeID(0), NodeID(.max)]
        var batches: [[Message]] = []
        for sequence: UInt32 in [0, 1, .max] {
            for target in ids {
                batches.append([
                    .ping(sequence: sequence, target: target), .ack(sequence: sequence), .nack(sequence: sequence),
                    .pingRequest(sequence: sequence, target: target, endpoint: SocketEndpoint("255.255.255.255:65535")!),
                    .pingRequest(sequence: sequence, target: target, endpoint: nil),
                ])
            }
        }
        for version in Self.versions {
            for node in ids {
                for reporter in ids {
                    batches.append([.suspect(node: node, incarnation: version, reporter: reporter), .dead(node: node, incarnation: version, reporter: reporter)])
                }
                batches.append([.bucket(BucketSummary(rangeStart: node, rangeEnd: node, entries: MemberStatus.allCases.prefix(1).map {
                    .init(node: node, version: version, status: $0)
                }))])
                batches.append([.bucket(BucketSummary(rangeStart: node, rangeEnd: node, entries: [.init(node: node, version: version, status: .dead)]))])
            }
            batches.append([.record(hostile.ownRecord(version: version, network: network).encoded)])
            batches.append([.member(certificate: hostile.member.certificate.encoded, record: hostile.ownRecord(version: version, network: network).encoded)])
            batches.append([.record(hostile.ownRecord(version: version, network: network, signedAt: .max).encoded)])
        }
        // Garbage and forged trust objects.
        batches.append([.record([]), .record([UInt8](repeating: 0xFF, count: 900)), .member(certificate: [], record: []),
                        .revocation([]), .revocation([UInt8](repeating: 1, count: 200))])
        let forgedRevocation = try! Revocation(
            networkID: network.settings.networkID, identityKey: other.identity.publicKey, name: other.certificate.name,
            revokedAt: 0, keepUntil: .max, issuer: hostile.member.identity)
        batches.append([.revocation(forgedRevocation.encoded)])
        // Digests: every hash wrong, every range, extreme counts.
        for first in [0, 128] {
            batches.append([.digest(Digest(memberCount: .max, revocationHash: .max, firstBucket: UInt16(first), hashes: Array(repeating: .max, count: 128)))])
        }
        batches.append([.digest(Digest(memberCount: 0, revocationHash: 0, firstBucket: 255, hashes: [0]))])
        // Oversize lists: the most IDs a request may hold, and a full bucket of unknown IDs.
        batches.append([.request((0..<UInt64(Message.requestLimit)).map { NodeID($0 &* 0x0101_0101_0101_0101) })])
        let start = NodeID(0x4200_0000_0000_0000)
        batches.append([.bucket(BucketSummary(rangeStart: start, rangeEnd: NodeID(start.value + 1000), entries: (0..<UInt64(BucketSummary.entriesPerPart)).map {
            .init(node: NodeID(start.value + $0), version: .max, status: .alive)
        }))])
        batches.append([.extensionMessage(type: 0x3F, body: [UInt8](repeating: 0xFF, count: 1000))])
        return batches
    }

    @Test func everyMessageTypeWithExtremeContents() {
        let victimNode = network.node(1), mallory = network.node(2), other = network.node(3)
        let victim = network.meshNode(victimNode, members: [mallory, other])
        let hostile = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        let ceiling = RecordVersion.ceiling(at: network.now)
        var now = network.now
        for batch in everyMessage(victim: victimNode.id, hostile: hostile, other: other) {
            hostile.send(batch, now: now)
            now = now + .milliseconds(10)
            victim.tick(now: now)
            _ = victim.drainOutput()
        }
        // Sane: own version bounded, no member adopted from the future, nobody dead at once, no stranger added.
        #expect(victim.localRecord.version <= ceiling)
        for member in victim.members.all { #expect(member.record.version <= ceiling) }
        #expect(victim.members.count == 2)
        #expect(victim.members[other.id]?.status != .dead)
        #expect(victim.revocations.isEmpty)
        #expect(victim.relayedProbes.count <= MeshNode.relayedProbeLimit)
        #expect(victim.antiEntropyRequested.count <= MeshNode.antiEntropyRequestLimit)
        // Refusals were counted.
        #expect(victim.drops[.futureVersion] > 0)
        #expect(victim.drops[.invalidRecord] > 0)
        #expect(victim.drops[.invalidRevocation] > 0)
        #expect(victim.drops[.invalidMessage] > 0)
        // Still working: the honest member can talk to it, and it publishes.
        let honest = HostileMember(other, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network, source: SocketEndpoint("192.0.2.3:51821")!)
        honest.send([.ping(sequence: 77, target: victimNode.id)], now: now)
        #expect(honest.receivedMessages.contains(.ack(sequence: 77)))
        victim.announce(LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.1:4000")!)]), now: now)
        #expect(victim.localRecord.version <= RecordVersion.ceiling(at: now))
    }
}

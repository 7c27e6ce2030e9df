@testable import MeshCore
import MeshCrypto
import Testing

/// A member sends versions from the wire that must never trap nor be adopted: 0, `UInt64.max`,
/// `UInt64.max - 1` and far future, in bucket summaries, suspicions, deaths and records.
@Suite struct HostileVersionTests {
    let network = TestNetwork()
    let extremes: [UInt64] = [0, .max, .max - 1, RecordVersion.clockVersion(at: TestNetwork().now) + 86_400_000]

    func setUp() -> (victim: MeshNode, victimNode: TestNetwork.Node, hostile: HostileMember, other: TestNetwork.Node) {
        let victimNode = network.node(1), mallory = network.node(2), other = network.node(3)
        let victim = network.meshNode(victimNode, members: [mallory, other])
        let hostile = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        return (victim, victimNode, hostile, other)
    }

    func singleEntryBucket(_ node: NodeID, version: UInt64, status: MemberStatus = .alive) -> Message {
        .bucket(BucketSummary(rangeStart: node, rangeEnd: node, entries: [.init(node: node, version: version, status: status)]))
    }

    @Test func bucketSummariesWithExtremeVersionsNeitherTrapNorAreAdopted() {
        let (victim, victimNode, hostile, other) = setUp()
        let ceiling = RecordVersion.ceiling(at: network.now)
        let before = victim.localRecord.version
        for version in extremes {
            for status in [MemberStatus.alive, .dead] {
                hostile.send([singleEntryBucket(victimNode.id, version: version, status: status)], now: network.now)
                hostile.send([singleEntryBucket(other.id, version: version, status: status)], now: network.now)
            }
        }
        #expect(victim.localRecord.version <= ceiling)
        #expect(victim.localRecord.version >= before)
        #expect(victim.members[other.id]?.record.version == 1)
        #expect(victim.members[other.id]?.status == .alive)
        // max, max-1 and far future, twice each (alive, dead), for both subjects.
        #expect(victim.drops[.futureVersion] == 12)
        // The victim can still publish.
        victim.announce(LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.1:4000")!)]), now: network.now)
        #expect(victim.localRecord.version > before && victim.localRecord.version <= ceiling)
    }

    @Test func suspicionsDeathsAndRecordsFromTheFutureAreRefused() {
        let (victim, victimNode, hostile, other) = setUp()
        let ceiling = RecordVersion.ceiling(at: network.now)
        for version in extremes.dropFirst() {
            hostile.send([
                .suspect(node: other.id, incarnation: version, reporter: other.id),
                .dead(node: other.id, incarnation: version, reporter: victimNode.id),
                .suspect(node: victimNode.id, incarnation: version, reporter: other.id),
                .dead(node: victimNode.id, incarnation: version, reporter: other.id),
                .record(hostile.ownRecord(version: version, network: network).encoded),
            ], now: network.now)
        }
        #expect(victim.members[other.id]?.status == .alive)
        #expect(victim.members[hostile.member.id]?.record.version == 1)
        #expect(victim.localRecord.version <= ceiling)
        #expect(victim.drops[.futureVersion] == 15)
        // Version 0 is merely old: no refutation needed, nothing adopted.
        hostile.send([.suspect(node: other.id, incarnation: 0, reporter: other.id), .record(hostile.ownRecord(version: 0, network: network).encoded)], now: network.now)
        #expect(victim.members[other.id]?.status == .alive)
        #expect(victim.members[hostile.member.id]?.record.version == 1)
    }

    @Test func aNodeWithAnAbsurdPersistedVersionStartsAndPublishes() throws {
        let node = network.node(1)
        let absurd: [UInt64] = [.max, .max - 1, RecordVersion.ceiling(at: network.now) + 1]
        for previous in absurd {
            let resume = network.record(for: node, version: previous)
            let restarted = try MeshNode(
                identity: node.identity, certificate: node.certificate, settings: network.settings,
                announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.1:51821")!)]),
                previousVersion: previous, resume: resume, random: .seeded(1), now: network.now)
            #expect(restarted.localRecord.version == RecordVersion.clockVersion(at: network.now))
            restarted.refute(now: network.now)
            #expect(restarted.localRecord.version == RecordVersion.clockVersion(at: network.now) + 1)
        }
    }

    @Test func aHeldRecordFromTheFutureIsReplacedByASaneOne() {
        let observerNode = network.node(1), other = network.node(3)
        let observer = network.meshNode(observerNode)
        // State from before versions were bounded: a record far in the future.
        observer.members.put(Member(certificate: other.certificate, record: network.record(for: other, version: .max - 1), status: .alive, statusChangedAt: network.now))
        let sane = network.record(for: other, version: RecordVersion.clockVersion(at: network.now))
        observer.accept(sane, certificate: other.certificate, from: nil, spread: false, now: network.now)
        #expect(observer.members[other.id]?.record.version == sane.version)
    }
}

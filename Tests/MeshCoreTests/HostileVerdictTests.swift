@testable import MeshCore
import MeshCrypto
import Testing

/// One member cannot kill another, fake Lifeguard confirmations, or answer probes for others.
@Suite struct HostileVerdictTests {
    let network = TestNetwork()

    func setUp() -> (victim: MeshNode, hostile: HostileMember, other: TestNetwork.Node) {
        let victimNode = network.node(1), mallory = network.node(2), other = network.node(3)
        let victim = network.meshNode(victimNode, members: [mallory, other])
        let hostile = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        return (victim, hostile, other)
    }

    @Test func deadFromAnotherMemberIsOnlyASuspicion() {
        let (victim, hostile, other) = setUp()
        hostile.send([.dead(node: other.id, incarnation: 1, reporter: NodeID(12345))], now: network.now)
        #expect(victim.members[other.id]?.status == .suspect)
        // The target can still refute it with a newer record.
        hostile.send([.record(network.record(for: other, version: 2).encoded)], now: network.now)
        #expect(victim.members[other.id]?.status == .alive)
    }

    @Test func forgedReportersDoNotConfirmASuspicion() throws {
        let (victim, hostile, other) = setUp()
        hostile.send([.suspect(node: other.id, incarnation: 1, reporter: hostile.member.id)], now: network.now)
        let suspicion = try #require(victim.suspicions[other.id])
        let deadline = suspicion.deadline
        hostile.send((10..<20).map { .suspect(node: other.id, incarnation: 1, reporter: NodeID(UInt64($0))) }, now: network.now)
        hostile.send((20..<30).map { .dead(node: other.id, incarnation: 1, reporter: NodeID(UInt64($0))) }, now: network.now)
        #expect(victim.suspicions[other.id]?.confirmations == 0)
        #expect(victim.suspicions[other.id]?.deadline == deadline)
        #expect(victim.members[other.id]?.status == .suspect)
    }

    @Test func acksCountOnlyFromTheProbedMember() throws {
        let (victim, hostile, other) = setUp()
        var now = network.now
        var sequences: [UInt32] = []
        // Run probes until one targets the honest member.
        for _ in 0..<20 {
            now = now + .seconds(1)
            victim.tick(now: now)
            _ = victim.drainOutput()
            if let probe = victim.probe { sequences.append(probe.sequence) }
            if victim.probe?.target == other.id, victim.probe?.acked == false { break }
        }
        let probe = try #require(victim.probe)
        #expect(probe.target == other.id)
        hostile.send([.ack(sequence: probe.sequence), .nack(sequence: probe.sequence)], now: now)
        #expect(victim.probe?.acked == false)
        #expect(victim.drops[.unexpectedAck] == 2)
        // Sequence numbers are not a counter a member could guess.
        #expect(Set(sequences).count == sequences.count)
        #expect(!zip(sequences, sequences.dropFirst()).allSatisfy { $1 == $0 &+ 1 })
    }

    @Test func pingRequestsPerMemberAreBounded() {
        let (victim, hostile, other) = setUp()
        let requests = (0..<40).map { Message.pingRequest(sequence: UInt32($0), target: other.id, endpoint: nil) }
        hostile.send(requests, now: network.now)
        #expect(victim.relayedProbes.count == MeshNode.relayedProbesPerRequester)
        #expect(victim.drops[.overBudget] == UInt64(40 - MeshNode.relayedProbesPerRequester))
    }
}

@testable import MeshCore
import Testing

/// Every probe period probes a member, whatever the order draws (the node's own slot in its
/// member table is hidden, and was once taken for "nobody to probe": a third of the periods of a
/// mesh of three went without a probe, and a host whose NAT renumbered told nobody for seconds).
@Suite struct ProbeTargetTests {
    let network = TestNetwork()

    @Test func theNodesOwnSlotNeverCostsAPeriod() {
        let me = network.node(1), others = [network.node(2), network.node(3)]
        var table = MemberTable()
        for member in [me] + others {
            table.put(Member(certificate: member.certificate, record: network.record(for: member, version: 1), status: .alive, statusChangedAt: network.now))
        }
        let node = try! MeshNode(
            identity: me.identity, certificate: me.certificate, settings: network.settings,
            announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.1:51821")!)]),
            members: table, random: .seeded(5), now: network.now)
        #expect(node.members.orderCount == 3)
        let targets = (0..<300).map { _ in node.nextProbeTarget()?.id }
        #expect(!targets.contains(nil))
        #expect(Set(targets.compactMap { $0 }) == Set(others.map(\.id)))
    }
}

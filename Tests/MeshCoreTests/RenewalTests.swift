@testable import MeshCore
import MeshCrypto
import Testing

@Suite struct RenewalTests {
    let network = TestNetwork()

    /// Delivers datagrams between nodes (by endpoint) until nothing is left.
    func pump(_ nodes: [SocketEndpoint: MeshNode], now: Timestamp, rounds: Int = 20) {
        for _ in 0..<rounds {
            var traffic: [(OutboundDatagram, SocketEndpoint)] = []
            for (address, node) in nodes { for datagram in node.drainOutput().datagrams { traffic.append((datagram, address)) } }
            if traffic.isEmpty { return }
            for (datagram, source) in traffic { nodes[datagram.endpoint]?.receive(datagram.bytes, from: source, now: now) }
        }
    }

    @Test func aRenewedCertificateReachesOtherMembers() throws {
        let a = network.node(1), b = network.node(2)
        let aAt = SocketEndpoint("192.0.2.1:51821")!, bAt = SocketEndpoint("192.0.2.2:51821")!
        func make(_ node: TestNetwork.Node, _ other: TestNetwork.Node, at endpoint: SocketEndpoint, otherAt: SocketEndpoint, seed: UInt64) throws -> MeshNode {
            var table = MemberTable()
            let otherRecord = try NodeRecord(
                nodeID: other.id, version: 1, certificateDigest: other.certificate.digest, flags: [],
                gossipEndpoints: [AnnouncedEndpoint(.local, otherAt)], wireGuardEndpoints: [], announcedPrefixes: [], relays: [],
                signedAt: network.now.seconds, signer: other.identity)
            table.put(Member(certificate: other.certificate, record: otherRecord, status: .alive, statusChangedAt: network.now))
            return try MeshNode(
                identity: node.identity, certificate: node.certificate, settings: network.settings,
                announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, endpoint)]), members: table,
                newcomer: false, random: .seeded(seed), now: network.now)
        }
        let nodeA = try make(a, b, at: aAt, otherAt: bAt, seed: 1)
        let nodeB = try make(b, a, at: bAt, otherAt: aAt, seed: 2)
        var service = AuthorityService(settings: network.settings, key: network.authority, certificates: [a.certificate])
        let renewalAt = network.now + .seconds(Double(AuthorityService.minimumRenewalInterval))
        let renewed = try service.renew(name: a.certificate.name, now: renewalAt)
        #expect(renewed.notAfter > a.certificate.notAfter)
        #expect(renewed.identityKey == a.certificate.identityKey && renewed.addresses == a.certificate.addresses)
        try nodeA.renewCertificate(renewed, now: renewalAt)
        pump([aAt: nodeA, bAt: nodeB], now: renewalAt)
        #expect(nodeB.members[a.id]?.certificate == renewed)
        #expect(nodeB.members[a.id]?.record.certificateDigest == renewed.digest)
        // A certificate for another identity is refused.
        #expect(throws: TrustError.identityMismatch) { try nodeA.renewCertificate(b.certificate, now: network.now) }
    }
}

@testable import MeshCore
import MeshCrypto

/// A small network for tests: an authority and helpers to make certificates and records.
struct TestNetwork {
    let authority = Ed25519PrivateKey()
    let settings: NetworkSettings
    let now = Timestamp(seconds: 1_800_000_000)

    init() {
        settings = try! NetworkSettings(
            networkID: .random(), name: "testnet", authority: authority, ipv4Prefix: IPPrefix("100.80.0.0/16")!,
            ipv6Prefix: IPPrefix("fd5a:1::/48")!, gossipPort: 51821, wireGuardPort: 51820, createdAt: 1_800_000_000)
    }

    struct Node {
        let identity: Ed25519PrivateKey
        let certificate: NodeCertificate
        var id: NodeID { certificate.nodeID }
    }

    func node(_ index: Int, routes: [IPPrefix] = [], roles: NodeRoles = [], notAfter: UInt64? = nil, issuer: Ed25519PrivateKey? = nil,
              networkID: NetworkID? = nil) -> Node {
        let identity = Ed25519PrivateKey()
        let certificate = try! NodeCertificate(
            networkID: networkID ?? settings.networkID, serial: UInt64(index), name: "node-\(index)", identityKey: identity.publicKey,
            wireGuardKey: X25519PrivateKey().publicKey, addresses: [IPAddress("100.80.0.\(index)")!],
            routes: routes, roles: roles, notBefore: min(now.seconds, notAfter ?? now.seconds) - 3600, notAfter: notAfter ?? now.seconds + 86400,
            issuer: issuer ?? authority)
        return Node(identity: identity, certificate: certificate)
    }

    func record(
        for node: Node, version: UInt64, port: UInt16 = 51821, prefixes: [IPPrefix]? = nil, served: [ServedRoute] = [], left: Bool = false
    ) -> NodeRecord {
        try! NodeRecord(
            nodeID: node.id, version: version, certificateDigest: node.certificate.digest, flags: left ? [.left] : [],
            gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.1:\(port)")!)], wireGuardEndpoints: [],
            announcedPrefixes: prefixes ?? node.certificate.grantedPrefixes, relays: [], servedRoutes: served, signedAt: now.seconds,
            signer: node.identity)
    }

    func meshNode(_ node: Node, members: [Node] = [], now: Timestamp? = nil, seed: UInt64 = 1) -> MeshNode {
        var table = MemberTable()
        for member in members where member.id != node.id {
            table.put(Member(certificate: member.certificate, record: record(for: member, version: 1), status: .alive, statusChangedAt: self.now))
        }
        return try! MeshNode(
            identity: node.identity, certificate: node.certificate, settings: settings,
            announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.1:51821")!)]),
            members: table, random: .seeded(seed), now: now ?? self.now)
    }
}

extension Array where Element == UInt8 {
    /// Every prefix shorter than the whole, for truncation tests.
    var truncations: [[UInt8]] { (0..<count).map { Array(self[0..<$0]) } }
}

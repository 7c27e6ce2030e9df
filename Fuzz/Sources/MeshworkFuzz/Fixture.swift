import MeshCore
import MeshCrypto

/// A small, fixed network every target shares: an authority, the node under test ("victim",
/// also the bootstrap node holding the authority's state) and two members whose private keys the
/// harness holds ("peer" and "third"). Keys come from fixed seeds, so the seed corpora (which name
/// these nodes and carry their signatures) stay valid from run to run.
struct Fixture {
    struct Node {
        let identity: Ed25519PrivateKey
        let wireGuard: X25519PrivateKey
        let certificate: NodeCertificate
        let endpoint: SocketEndpoint
        var id: NodeID { certificate.nodeID }
    }

    /// The fixed clock of every target (inputs move it forward from here).
    let now = Timestamp(seconds: 1_800_000_000)
    let authority: Ed25519PrivateKey
    let settings: NetworkSettings
    let victim: Node
    let peer: Node
    let third: Node
    /// An open invitation the victim (as bootstrap node) knows, and its token.
    let invitation: Invitation
    let token: InvitationToken

    nonisolated(unsafe) private static var cached: Fixture?
    /// The victim's member table at the start of every input (signing two records per input was
    /// a large part of the channel targets' time).
    nonisolated(unsafe) private static var cachedMembers: MemberTable?

    /// The fixture, built once per process (libFuzzer runs targets on one thread).
    static var shared: Fixture {
        if let cached { return cached }
        let fixture = Fixture()
        cached = fixture
        return fixture
    }

    static func signingKey(_ seed: UInt8) -> Ed25519PrivateKey {
        try! Ed25519PrivateKey(seed: SecretBytes(copying: [UInt8](repeating: seed, count: 32)))
    }

    static func agreementKey(_ seed: UInt8) -> X25519PrivateKey {
        try! X25519PrivateKey(secret: SecretBytes(copying: [UInt8](repeating: seed, count: 32)))
    }

    private init() {
        authority = Self.signingKey(1)
        settings = try! NetworkSettings(
            networkID: NetworkID(bytes: [UInt8](repeating: 0x4D, count: NetworkID.byteCount))!, name: "fuzznet", authority: authority,
            ipv4Prefix: IPPrefix("100.80.0.0/16")!, ipv6Prefix: IPPrefix("fd5a:1::/48")!, gossipPort: 51821, wireGuardPort: 51820,
            createdAt: now.seconds - 86400)
        let (settings, now, authority) = (settings, now, authority)
        func node(_ seed: UInt8, _ name: String, roles: NodeRoles, routes: [IPPrefix] = []) -> Node {
            let identity = Self.signingKey(seed)
            let wireGuard = Self.agreementKey(seed)
            let certificate = try! NodeCertificate(
                networkID: settings.networkID, serial: UInt64(seed), name: name, identityKey: identity.publicKey,
                wireGuardKey: wireGuard.publicKey, addresses: [IPAddress("100.80.0.\(seed)")!], routes: routes, roles: roles,
                notBefore: now.seconds - 3600, notAfter: now.seconds + 86400 * 30, issuer: authority)
            return Node(identity: identity, wireGuard: wireGuard, certificate: certificate, endpoint: SocketEndpoint("192.0.2.\(seed):51821")!)
        }
        victim = node(2, "victim", roles: [.relay, .authority])
        peer = node(3, "peer", roles: [.relay], routes: [IPPrefix("10.3.0.0/16")!])
        third = node(4, "third", roles: [])
        let secret = [UInt8](repeating: 0x5E, count: InvitationToken.secretLength)
        token = try! InvitationToken(
            networkID: settings.networkID, networkName: settings.name, authorityKey: authority.publicKey, bootstrapKey: victim.identity.publicKey,
            bootstrapEndpoints: [victim.endpoint], secret: secret, expiresAt: now.seconds + 3600, nodeName: "newcomer")
        invitation = Invitation(
            id: token.invitationID, secret: secret, name: "newcomer", addresses: [IPAddress("100.80.0.9")!], routes: [], roles: [],
            expiresAt: now.seconds + 3600)
    }

    /// The signed record `node` publishes at `version`.
    func record(for node: Node, version: UInt64, left: Bool = false) -> NodeRecord {
        try! NodeRecord(
            nodeID: node.id, version: version, certificateDigest: node.certificate.digest, flags: left ? [.left] : [],
            gossipEndpoints: [AnnouncedEndpoint(.local, node.endpoint)],
            wireGuardEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint(address: node.endpoint.address, port: 51820))],
            announcedPrefixes: node.certificate.grantedPrefixes, relays: [], signedAt: now.seconds, signer: node.identity)
    }

    func member(_ node: Node, version: UInt64 = 1) -> Member {
        Member(certificate: node.certificate, record: record(for: node, version: version), status: .alive, statusChangedAt: now)
    }

    /// A fresh node under test: knows peer and third, holds the authority's state with one open
    /// invitation, and has a seeded random source (runs are reproducible).
    func makeVictim() -> MeshNode {
        let table: MemberTable
        if let cached = Self.cachedMembers {
            table = cached
        } else {
            var fresh = MemberTable()
            fresh.put(member(peer))
            fresh.put(member(third))
            Self.cachedMembers = fresh
            table = fresh
        }
        let node = try! MeshNode(
            identity: victim.identity, certificate: victim.certificate, settings: settings,
            announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, victim.endpoint)], offersRelay: true),
            members: table, newcomer: false, random: .seeded(1), now: now)
        node.authority = AuthorityService(settings: settings, key: authority, invitations: [invitation], certificates: [victim.certificate, peer.certificate, third.certificate])
        return node
    }

    /// How the victim's channel addresses `node`.
    func channelPeer(_ node: Node) -> ChannelPeer {
        ChannelPeer(nodeID: node.id, staticPublicKey: try! X25519KeyAgreement().staticPublicKey(for: node.identity.publicKey))
    }
}

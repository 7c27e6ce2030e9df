@testable import MeshCore
import MeshCrypto
import Testing

/// The authority: route grants, renewals, invitations and join requests, under abuse.
@Suite struct HostileAuthorityTests {
    let network = TestNetwork()
    let bootstrapAt = SocketEndpoint("192.0.2.1:51821")!
    let joinerAt = SocketEndpoint("198.51.100.7:40000")!

    func authorityNode(ttl: UInt64 = 3600) throws -> (MeshNode, InvitationToken) {
        let authorityIdentity = Ed25519PrivateKey()
        var service = AuthorityService(settings: network.settings, key: network.authority)
        let certificate = try service.issueCertificate(
            name: "hub", identityKey: authorityIdentity.publicKey, wireGuardKey: X25519PrivateKey().publicKey,
            addresses: [IPAddress("100.80.0.1")!], routes: [], roles: [.authority], now: network.now)
        let token = try service.invite(
            name: "web-1", ttl: ttl, bootstrapKey: authorityIdentity.publicKey, bootstrapEndpoints: [bootstrapAt], now: network.now)
        let node = try MeshNode(
            identity: authorityIdentity, certificate: certificate, settings: network.settings,
            announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, bootstrapAt)]), random: .seeded(1), now: network.now)
        node.authority = service
        return (node, token)
    }

    /// Delivers `requests` from `source` and returns the replies sent back there.
    func deliver(_ requests: [OutboundDatagram], to node: MeshNode, from source: SocketEndpoint, now: Timestamp) -> [OutboundDatagram] {
        var replies: [OutboundDatagram] = []
        for request in requests {
            node.receive(request.bytes, from: source, now: now)
            replies += node.drainOutput().datagrams.filter { $0.endpoint == source }
        }
        return replies
    }

    @Test func routeGrantsThatTakeOthersTrafficAreRefused() throws {
        var service = AuthorityService(settings: network.settings, key: network.authority)
        let key = Ed25519PrivateKey().publicKey
        _ = try service.issueCertificate(
            name: "db", identityKey: Ed25519PrivateKey().publicKey, wireGuardKey: X25519PrivateKey().publicKey,
            addresses: [IPAddress("100.80.0.9")!], routes: [], roles: [], now: network.now)
        _ = try service.invite(name: "pending", ttl: 600, address: IPAddress("100.80.0.20")!, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        let refused = ["0.0.0.0/0", "::/0", "100.80.0.0/16", "100.80.1.0/24", "100.0.0.0/8", "fd5a:1::/48", "fd5a::/16", "100.80.0.9/32", "100.80.0.20/32"]
        for text in refused {
            let route = try #require(IPPrefix(text))
            #expect(throws: AuthorityError.self, "\(text)") {
                try service.invite(name: "r\(refused.firstIndex(of: text)!)", ttl: 600, routes: [route], bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
            }
        }
        do {
            _ = try service.invite(name: "x", ttl: 600, routes: [IPPrefix("0.0.0.0/0")!], bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        } catch {
            #expect("\(error)".contains("exit role"))
        }
        // Prefixes outside the overlay are fine.
        _ = try service.invite(name: "lan", ttl: 600, routes: [IPPrefix("10.1.0.0/16")!, IPPrefix("2001:db8::/32")!], bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
    }

    @Test func renewalsAreThrottledAndRefusedForExpiredCertificates() throws {
        var service = AuthorityService(settings: network.settings, key: network.authority)
        let certificate = try service.issueCertificate(
            name: "a", identityKey: Ed25519PrivateKey().publicKey, wireGuardKey: X25519PrivateKey().publicKey,
            addresses: [IPAddress("100.80.0.9")!], routes: [], roles: [], now: network.now)
        #expect(throws: AuthorityError.renewalTooSoon("a")) { try service.renew(name: "a", now: network.now + .seconds(3600)) }
        let renewalAt = network.now + .seconds(Double(AuthorityService.minimumRenewalInterval))
        let renewed = try service.renew(name: "a", now: renewalAt)
        #expect(renewed.notAfter > certificate.notAfter)
        #expect(throws: AuthorityError.renewalTooSoon("a")) { try service.renew(name: "a", now: renewalAt + .seconds(60)) }
        // After expiry: never renewed.
        let afterExpiry = Timestamp(seconds: renewed.notAfter + 1)
        #expect(throws: AuthorityError.certificateExpired("a")) { try service.renew(name: "a", now: afterExpiry) }
    }

    @Test func usedAndExpiredInvitationsAreDroppedAfterExpiry() throws {
        let (node, token) = try authorityNode(ttl: 600)
        var random = RandomSource.seeded(4)
        var client = try JoinClient(token: token, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        let replies = deliver(client.requestDatagrams, to: node, from: joinerAt, now: network.now)
        guard case .enrolled = replies.compactMap({ client.receive($0.bytes, from: bootstrapAt) }).first else {
            Issue.record("not enrolled"); return
        }
        #expect(node.authority?.invitations.count == 1)
        // Housekeeping after expiry plus grace forgets the used invitation.
        let later = network.now + .seconds(Double(600 + AuthorityService.invitationGrace + 20))
        node.tick(now: later)
        #expect(node.authority?.invitations.isEmpty == true)
        #expect(node.authority?.certificates["web-1"] != nil)
    }

    @Test func aReplayedJoinRequestDrawsNoReply() throws {
        let (node, token) = try authorityNode()
        var random = RandomSource.seeded(5)
        var client = try JoinClient(token: token, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        let captured = client.requestDatagrams
        let first = deliver(captured, to: node, from: joinerAt, now: network.now)
        #expect(first.count == 1)
        // Byte-identical replays, from the joiner's address or any other: no reply.
        let spoofed = SocketEndpoint("203.0.113.9:4000")!
        #expect(deliver(captured, to: node, from: spoofed, now: network.now + .seconds(2)).isEmpty)
        #expect(deliver(captured, to: node, from: joinerAt, now: network.now + .seconds(3)).isEmpty)
        #expect(node.drops[.joinReplayed] == 2)
        // A stale request (captured long ago) draws no reply either.
        var old = try JoinClient(token: token, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        #expect(deliver(old.retryDatagrams(now: network.now, random: &random), to: node, from: spoofed, now: network.now + .seconds(1200)).isEmpty)
        #expect(node.drops[.joinReplayed] == 3)
        // The joiner's own retry (a new request) is answered with its certificate.
        let retry = client.retryDatagrams(now: network.now + .seconds(4), random: &random)
        let answered = deliver(retry, to: node, from: joinerAt, now: network.now + .seconds(4))
        guard case .enrolled = answered.compactMap({ client.receive($0.bytes, from: bootstrapAt) }).first else {
            Issue.record("retry not answered"); return
        }
    }

    @Test func joinRequestsAreLimitedPerSource() throws {
        let (node, token) = try authorityNode()
        var random = RandomSource.seeded(6)
        let flooder = SocketEndpoint("203.0.113.66:4000")!
        for _ in 0..<30 {
            var client = try JoinClient(token: token, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
            _ = deliver(client.retryDatagrams(now: network.now, random: &random), to: node, from: flooder, now: network.now)
        }
        #expect(node.drops[.rateLimited] == 30 - UInt64(MeshNode.joinRequestBurstPerSource))
        // The invited host, from its own address, still gets in while its token is flooded elsewhere.
        let fresh = try authorityNode()
        var invited = try JoinClient(token: fresh.1, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        for _ in 0..<30 { _ = deliver(invited.requestDatagrams, to: fresh.0, from: flooder, now: network.now) }
        let replies = deliver(invited.retryDatagrams(now: network.now + .milliseconds(1), random: &random), to: fresh.0, from: joinerAt, now: network.now)
        guard case .enrolled = replies.compactMap({ invited.receive($0.bytes, from: bootstrapAt) }).first else {
            Issue.record("invited host locked out"); return
        }
    }

    /// Anti-entropy replies to one datagram are bounded relative to it, and per member over time.
    @Test func antiEntropyRepliesAreBounded() {
        let victimNode = network.node(1), mallory = network.node(2)
        let others = (10..<200).map { network.node($0) }
        let victim = network.meshNode(victimNode, members: [mallory] + others)
        let hostile = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        hostile.send([.ping(sequence: 1, target: victimNode.id)], now: network.now)  // session up
        // A small request for every member the victim knows.
        let request = Message.request(others.prefix(Message.requestLimit).map(\.id))
        var writer = ByteWriter()
        request.encode(into: &writer)
        let requestSize = writer.count
        let replies = hostile.send([request], now: network.now)
        let replyBytes = replies.reduce(0) { $0 + $1.bytes.count }
        #expect(replyBytes <= (requestSize + 100) * MeshNode.replyRatio)
        #expect(victim.drops[.overBudget] == 1)
        // Repeated, the member's budget runs out.
        var total = 0
        for _ in 0..<200 { total += hostile.send([request], now: network.now).reduce(0) { $0 + $1.bytes.count } }
        #expect(Double(total) <= MeshNode.replyBurstBytes * 1.1)
    }

    /// The bound leaves room for the smallest honest exchange: a request for one member (a
    /// newcomer asking its bootstrap node for it) draws that member's certificate and record.
    @Test func aRequestForOneMemberIsAnswered() {
        let victimNode = network.node(1), asker = network.node(2), wanted = network.node(3)
        let victim = network.meshNode(victimNode, members: [asker, wanted])
        // The wanted member's record as a host announces it: IPv4 and IPv6 endpoints of both kinds.
        let endpoints = (1...4).map { AnnouncedEndpoint(.local, SocketEndpoint("192.0.2.\($0):51821")!) }
            + (1...3).map { AnnouncedEndpoint(.local, SocketEndpoint("[2001:db8::\($0)]:51821")!) }
        let record = try! NodeRecord(
            nodeID: wanted.id, version: 2, certificateDigest: wanted.certificate.digest, flags: [],
            gossipEndpoints: endpoints, wireGuardEndpoints: endpoints, announcedPrefixes: wanted.certificate.grantedPrefixes,
            relays: [], signedAt: network.now.seconds, signer: wanted.identity)
        HostileMember(wanted, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
            .send([.record(record.encoded)], now: network.now)
        let member = HostileMember(asker, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        member.send([.ping(sequence: 1, target: victimNode.id)], now: network.now)  // session up
        member.send([.request([wanted.id])], now: network.now)
        #expect(victim.drops[.overBudget] == 0)
        let answered = member.receivedMessages.contains { message in
            if case let .member(_, record) = message, let decoded = try? NodeRecord(decoding: record) { return decoded.nodeID == wanted.id }
            return false
        }
        #expect(answered)
    }

    /// IDs that no member holds, listed in bucket summaries, do not grow the request set forever.
    @Test func bucketsListingUnknownIDsAreBounded() {
        let victimNode = network.node(1), mallory = network.node(2)
        let victim = network.meshNode(victimNode, members: [mallory])
        let hostile = HostileMember(mallory, victim: victim, victimIdentity: victimNode.identity.publicKey, network: network)
        var now = network.now
        for round in 0..<100 {
            let start = UInt64(round) << 40
            let entries = (0..<UInt64(BucketSummary.entriesPerPart)).map { BucketSummary.Entry(node: NodeID(start + $0 + 1), version: 1, status: .alive) }
            hostile.send([.bucket(BucketSummary(rangeStart: NodeID(start + 1), rangeEnd: NodeID(start + 64), entries: entries))], now: now)
            now = now + .seconds(1)
        }
        #expect(victim.antiEntropyRequested.count <= MeshNode.antiEntropyRequestLimit)
        #expect(victim.members.count == 1)
    }
}

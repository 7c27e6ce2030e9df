@testable import MeshCore
import MeshCrypto
import Testing

@Suite struct EnrollmentTests {
    let network = TestNetwork()
    let bootstrapAt = SocketEndpoint("192.0.2.1:51821")!
    let joinerAt = SocketEndpoint("198.51.100.7:40000")!

    /// The authority node with an enrollment service, and a token for "web-1".
    func authorityNode() throws -> (MeshNode, InvitationToken) {
        let authorityIdentity = Ed25519PrivateKey()
        var service = AuthorityService(settings: network.settings, key: network.authority)
        let certificate = try service.issueCertificate(
            name: "hub", identityKey: authorityIdentity.publicKey, wireGuardKey: X25519PrivateKey().publicKey,
            addresses: [IPAddress("100.80.0.1")!], routes: [], roles: [.authority, .relay], now: network.now)
        let token = try service.invite(
            name: "web-1", ttl: 3600, bootstrapKey: authorityIdentity.publicKey, bootstrapEndpoints: [bootstrapAt], now: network.now)
        let node = try MeshNode(
            identity: authorityIdentity, certificate: certificate, settings: network.settings,
            announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, bootstrapAt)]), random: .seeded(1), now: network.now)
        node.authority = service
        return (node, token)
    }

    /// Sends the client's request to the node and returns the client's outcome.
    func exchange(_ client: inout JoinClient, with node: MeshNode, now: Timestamp, requests: [OutboundDatagram]? = nil) -> JoinClient.Outcome? {
        var outcome: JoinClient.Outcome?
        for request in requests ?? client.requestDatagrams {
            node.receive(request.bytes, from: joinerAt, now: now)
            for reply in node.drainOutput().datagrams where reply.endpoint == joinerAt {
                outcome = client.receive(reply.bytes, from: request.endpoint) ?? outcome
            }
        }
        return outcome
    }

    @Test func joinIssuesACertificateOnceAndAnswersRetries() throws {
        let (node, token) = try authorityNode()
        let parsed = try InvitationToken(text: token.text)
        let identity = Ed25519PrivateKey(), wireGuard = X25519PrivateKey()
        var random = RandomSource.seeded(2)
        var client = try JoinClient(token: parsed, identity: identity, wireGuardKey: wireGuard.publicKey, now: network.now, random: &random)
        guard case let .enrolled(settings, certificate) = exchange(&client, with: node, now: network.now) else {
            Issue.record("not enrolled"); return
        }
        #expect(settings == network.settings)
        #expect(certificate.name == "web-1" && certificate.identityKey == identity.publicKey && certificate.wireGuardKey == wireGuard.publicKey)
        #expect(certificate.addresses.contains(IPAddress("100.80.0.2")!))
        #expect(certificate.addresses.contains(IPAddress("fd5a:1::2")!))
        // A retry (the answer was lost) gets the same certificate.
        let retry = client.retryDatagrams(now: network.now + .seconds(1), random: &random)
        guard case let .enrolled(_, again) = exchange(&client, with: node, now: network.now + .seconds(1), requests: retry) else {
            Issue.record("retry refused"); return
        }
        #expect(again == certificate)
        // Another host with the same token is refused: a token works once.
        var thief = try JoinClient(token: parsed, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now + .seconds(2), random: &random)
        #expect(exchange(&thief, with: node, now: network.now + .seconds(2)) == .refused("this token was already used to enroll another host; ask for a new one with `meshctl invite`"))
    }

    @Test func expiredWrongSecretAndUnknownTokensFail() throws {
        let (node, token) = try authorityNode()
        var random = RandomSource.seeded(3)
        // Expired at the bootstrap node (the joiner's clock is behind).
        var late = try JoinClient(token: token, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        #expect(exchange(&late, with: node, now: network.now + .seconds(7200)) == .refused("the token has expired; ask for a new one with `meshctl invite`"))

        // Right invitation ID, wrong secret: the proof fails and nothing is answered.
        let (freshNode, freshToken) = try authorityNode()
        var forgedSecret = freshToken.secret
        forgedSecret[0] ^= 1
        let forged = try InvitationToken(
            networkID: freshToken.networkID, networkName: freshToken.networkName, authorityKey: freshToken.authorityKey,
            bootstrapKey: freshToken.bootstrapKey, bootstrapEndpoints: freshToken.bootstrapEndpoints, secret: forgedSecret,
            expiresAt: freshToken.expiresAt, nodeName: freshToken.nodeName)
        var forger = try JoinClient(token: forged, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        // The forged secret changes the invitation ID too: the node does not know it.
        #expect(exchange(&forger, with: freshNode, now: network.now) == .refused(
            "the bootstrap node does not know this token: it was issued by another network or node, or it was cleaned up after expiring"))
        #expect(freshNode.drops[.joinUnknownInvitation] == 1)

        // A request for a known invitation whose proof is wrong: tamper with the proof bytes.
        let honest = try JoinClient(token: freshToken, identity: Ed25519PrivateKey(), wireGuardKey: X25519PrivateKey().publicKey, now: network.now, random: &random)
        var request = honest.requestDatagrams[0].bytes
        request[request.count - 1] ^= 1
        freshNode.receive(request, from: joinerAt, now: network.now)
        #expect(freshNode.drainOutput().datagrams.isEmpty)
        #expect(freshNode.drops[.authenticationFailed] == 1)
        _ = honest
    }

    @Test func invitationsReserveDistinctAddressesAndNames() throws {
        var service = AuthorityService(settings: network.settings, key: network.authority)
        let key = Ed25519PrivateKey().publicKey
        _ = try service.invite(name: "a", ttl: 60, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        _ = try service.invite(name: "b", ttl: 60, address: IPAddress("100.80.9.9")!, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        #expect(throws: AuthorityError.nameTaken("a")) {
            try service.invite(name: "a", ttl: 60, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        }
        #expect(throws: AuthorityError.addressTaken("100.80.9.9")) {
            try service.invite(name: "c", ttl: 60, address: IPAddress("100.80.9.9")!, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        }
        #expect(throws: AuthorityError.addressOutsideNetwork("10.0.0.1")) {
            try service.invite(name: "d", ttl: 60, address: IPAddress("10.0.0.1")!, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        }
        let addresses = service.invitations.values.flatMap(\.addresses)
        #expect(Set(addresses).count == addresses.count)
    }

    @Test func aRevokedNameGoesToOneNewNodeAndIsNotRenewed() throws {
        var service = AuthorityService(settings: network.settings, key: network.authority)
        var host: UInt8 = 10
        func issue(_ name: String) throws -> NodeCertificate {
            host += 1
            return try service.issueCertificate(
                name: name, identityKey: Ed25519PrivateKey().publicKey, wireGuardKey: X25519PrivateKey().publicKey,
                addresses: [IPAddress("100.80.7.\(host)")!], routes: [], roles: [], now: network.now)
        }
        let key = Ed25519PrivateKey().publicKey
        _ = try issue("a")
        _ = try service.revoke(name: "a", now: network.now)
        #expect(throws: AuthorityError.revoked("a")) { try service.renew(name: "a", now: network.now) }
        // The name is free again, for one new node: once that node holds a certificate, it is taken.
        _ = try issue("a")
        #expect(throws: AuthorityError.nameTaken("a")) {
            try service.invite(name: "a", ttl: 60, bootstrapKey: key, bootstrapEndpoints: [bootstrapAt], now: network.now)
        }
        let renewalAt = network.now + .seconds(Double(AuthorityService.minimumRenewalInterval))
        #expect(throws: Never.self) { _ = try service.renew(name: "a", now: renewalAt) }
    }
}

@testable import MeshCore
import MeshCrypto
import Testing

@Suite struct TrustObjectTests {
    let network = TestNetwork()

    @Test func settingsRoundTripAndRejectCorruption() throws {
        let settings = network.settings
        #expect(try NetworkSettings(decoding: settings.encoded) == settings)
        #expect(settings.ipv6Prefix == IPPrefix("fd5a:1::/48"))
        assertRejectsCorruption(settings.encoded) { try NetworkSettings(decoding: $0) }
    }

    @Test func certificateRoundTripAndRejectsCorruption() throws {
        let node = network.node(7, routes: [IPPrefix("10.7.0.0/16")!], roles: [.relay])
        let decoded = try NodeCertificate(decoding: node.certificate.encoded)
        #expect(decoded == node.certificate)
        #expect(decoded.name == "node-7" && decoded.roles == [.relay])
        #expect(decoded.grants(IPPrefix("10.7.3.0/24")!))
        #expect(decoded.grants(IPPrefix("100.80.0.7/32")!))
        #expect(!decoded.grants(IPPrefix("100.80.0.8/32")!))
        #expect(!decoded.grants(IPPrefix("10.0.0.0/8")!))
        assertRejectsCorruption(node.certificate.encoded) { try NodeCertificate(decoding: $0) }
    }

    /// Issue 13: each member's link-local address is fe80:: with its node ID, granted to it alone.
    @Test func theLinkLocalAddressIsTheNodeIDAndGrantedToItsNodeOnly() throws {
        let node = network.node(7), other = network.node(8)
        let address = node.certificate.linkLocalAddress
        #expect(address == .v6(IPv6Address(high: 0xfe80 << 48, low: node.certificate.nodeID.value)))
        #expect(IPAddress("fe80::a1b2:c3d4:e5f6:718") == NodeCertificate.linkLocalAddress(of: NodeID(0xa1b2_c3d4_e5f6_0718)))
        #expect(IPPrefix("fe80::/64")!.contains(address))
        #expect(node.certificate.grants(IPPrefix(host: address)))
        #expect(!node.certificate.grants(IPPrefix(host: other.certificate.linkLocalAddress)))
        #expect(!node.certificate.grants(IPPrefix("fe80::/64")!))
        let record = network.record(for: node, version: 1, prefixes: [IPPrefix(host: address)])
        try record.validate(against: node.certificate)
        let stolen = network.record(for: node, version: 2, prefixes: [IPPrefix(host: other.certificate.linkLocalAddress)])
        #expect(throws: TrustError.self) { try stolen.validate(against: node.certificate) }
    }

    @Test func revocationAndRecordRoundTrip() throws {
        let node = network.node(3)
        let revocation = try Revocation(
            networkID: network.settings.networkID, identityKey: node.identity.publicKey, name: "node-3",
            revokedAt: network.now.seconds, keepUntil: network.now.seconds + 100, issuer: network.authority)
        #expect(try Revocation(decoding: revocation.encoded) == revocation)
        assertRejectsCorruption(revocation.encoded) { try Revocation(decoding: $0) }

        let record = network.record(for: node, version: 42)
        let decoded = try NodeRecord(decoding: record.encoded)
        #expect(decoded == record && decoded.version == 42)
        try decoded.validate(against: node.certificate)
        // Records are decoded without the key; corruption shows as a parse error or a bad signature.
        for index in record.encoded.indices {
            var flipped = record.encoded
            flipped[index] ^= 0x10
            if let corrupt = try? NodeRecord(decoding: flipped) {
                #expect(throws: TrustError.self) { try corrupt.validate(against: node.certificate) }
            }
        }
        for truncated in record.encoded.truncations { #expect(throws: TrustError.self) { try NodeRecord(decoding: truncated) } }
    }

    @Test func recordsOutsideTheGrantOrOfAnotherCertificateAreRefused() throws {
        let node = network.node(4)
        let greedy = network.record(for: node, version: 1, prefixes: [IPPrefix("0.0.0.0/0")!])
        #expect(throws: TrustError.outsideGrant("0.0.0.0/0")) { try greedy.validate(against: node.certificate) }
        let other = network.node(5)
        #expect(throws: TrustError.identityMismatch) { try network.record(for: node, version: 1).validate(against: other.certificate) }
    }

    /// Issue 12: a record says which granted routes its node serves now, with their priorities;
    /// a route outside the certificate's route grant (or one of its addresses) is refused.
    @Test func servedRoutesRoundTripAndStayInsideTheRouteGrant() throws {
        let node = network.node(6, routes: [IPPrefix("192.168.10.0/24")!])
        let record = network.record(for: node, version: 7, served: [ServedRoute(prefix: IPPrefix("192.168.10.0/24")!, priority: 150)])
        let decoded = try NodeRecord(decoding: record.encoded)
        #expect(decoded.servedRoutes == [ServedRoute(prefix: IPPrefix("192.168.10.0/24")!, priority: 150)])
        try decoded.validate(against: node.certificate)
        for truncated in record.encoded.truncations { #expect(throws: TrustError.self) { try NodeRecord(decoding: truncated) } }
        let outside = network.record(for: node, version: 8, served: [ServedRoute(prefix: IPPrefix("192.168.0.0/16")!)])
        #expect(throws: TrustError.outsideGrant("192.168.0.0/16")) { try outside.validate(against: node.certificate) }
        let ownAddress = network.record(for: node, version: 9, served: [ServedRoute(prefix: IPPrefix(host: node.certificate.addresses[0]))])
        #expect(throws: TrustError.self) { try ownAddress.validate(against: node.certificate) }
    }

    /// Issue 12 point 3: the exit role grants the default routes as served routes (never as the
    /// member's own announced prefixes); without it a record serving them is refused.
    @Test func onlyTheExitRoleMayServeTheDefaultRoutes() throws {
        let exit = network.node(8, roles: [.exit])
        #expect(exit.certificate.routeGrant == IPPrefix.defaultRoutes)
        let serving = network.record(for: exit, version: 2, served: IPPrefix.defaultRoutes.map { ServedRoute(prefix: $0) })
        try serving.validate(against: exit.certificate)
        #expect(!exit.certificate.grants(IPPrefix.defaultIPv4), "not an address of its own")
        let member = network.node(9)
        let forged = network.record(for: member, version: 2, served: [ServedRoute(prefix: IPPrefix.defaultIPv4)])
        #expect(throws: TrustError.outsideGrant("0.0.0.0/0")) { try forged.validate(against: member.certificate) }
        // The exit role grants the default routes themselves, not every prefix inside them.
        let specific = network.record(for: exit, version: 3, served: [ServedRoute(prefix: IPPrefix("192.168.10.0/24")!)])
        #expect(throws: TrustError.outsideGrant("192.168.10.0/24")) { try specific.validate(against: exit.certificate) }
        #expect(NodeRoles.exit.description == "exit")
        #expect(NodeRoles([.relay, .exit]).names == ["relay", "exit"])
    }

    /// Records of format version 1 (before served routes), as members' snapshots hold them, still decode.
    @Test func aVersionOneRecordStillDecodesServingNothing() throws {
        let node = network.node(2)
        let record = network.record(for: node, version: 3)
        // Version 1 is version 2 without the served-routes list (one zero byte before `signed at`).
        var body = Array(try SignedEnvelope(opening: record.encoded, domain: .nodeRecord, what: "record").body)
        body[0] = 1
        body.remove(at: body.count - 9)
        let old = try NodeRecord(decoding: SignedEnvelope.seal(body, domain: .nodeRecord, with: node.identity))
        #expect(old.servedRoutes.isEmpty)
        #expect(old.announcedPrefixes == record.announcedPrefixes)
        try old.validate(against: node.certificate)
    }

    @Test func validatorChecksNetworkAuthorityWindowAndRevocation() throws {
        let validator = CertificateValidator(settings: network.settings)
        let good = network.node(1)
        try validator.validate(good.certificate, at: network.now, revoked: { _ in false })
        #expect(throws: TrustError.revoked) { try validator.validate(good.certificate, at: network.now, revoked: { _ in true }) }
        let expired = network.node(2, notAfter: network.now.seconds - 1000)
        #expect(throws: TrustError.expired) { try validator.validate(expired.certificate, at: network.now, revoked: { _ in false }) }
        let forged = network.node(3, issuer: Ed25519PrivateKey())
        #expect(throws: TrustError.wrongAuthority) { try validator.validate(forged.certificate, at: network.now, revoked: { _ in false }) }
        let foreign = network.node(4, networkID: .random())
        #expect(throws: TrustError.wrongNetwork) { try validator.validate(foreign.certificate, at: network.now, revoked: { _ in false }) }
    }

    @Test func namesAreDNSLabels() {
        #expect(NodeName.problem("web-1") == nil)
        #expect(NodeName.problem("") != nil)
        #expect(NodeName.problem("-web") != nil)
        #expect(NodeName.problem("Web") != nil)
        #expect(NodeName.problem("web_1") != nil)
        #expect(NodeName.problem(String(repeating: "a", count: 64)) != nil)
    }

    /// Truncated, extended, version-bumped and bit-flipped encodings never decode to a valid object.
    func assertRejectsCorruption<T>(_ bytes: [UInt8], _ decode: ([UInt8]) throws -> T, sourceLocation: SourceLocation = #_sourceLocation) {
        for truncated in bytes.truncations {
            #expect(throws: (any Error).self, sourceLocation: sourceLocation) { try decode(truncated) }
        }
        #expect(throws: (any Error).self, sourceLocation: sourceLocation) { try decode(bytes + [0]) }
        var versioned = bytes
        versioned[0] = 99
        #expect(throws: (any Error).self, sourceLocation: sourceLocation) { try decode(versioned) }
        for index in bytes.indices {
            var flipped = bytes
            flipped[index] ^= 0x01
            #expect(throws: (any Error).self, sourceLocation: sourceLocation) { try decode(flipped) }
        }
    }
}

@testable import MeshAgentCore
import MeshCore
import MeshCrypto
import Testing

/// A node renews its certificate with a third of its validity left, asks only a live authority,
/// retries hourly, and takes only a renewal of itself with a later expiry.
@Suite struct CertificateRenewalTests {
    let authority = Ed25519PrivateKey()
    let start = Timestamp(seconds: 1_800_000_000)
    let identity = Ed25519PrivateKey(), wireGuard = X25519PrivateKey().publicKey

    func certificate(name: String = "web-1", identity: Ed25519PrivateKey? = nil, roles: NodeRoles = [], days: UInt64 = 90, from: UInt64? = nil) throws -> NodeCertificate {
        let notBefore = from ?? start.seconds
        return try NodeCertificate(
            networkID: NetworkID(bytes: [UInt8](repeating: 7, count: 16))!, serial: 1, name: name, identityKey: (identity ?? self.identity).publicKey,
            wireGuardKey: identity == nil ? wireGuard : X25519PrivateKey().publicKey, addresses: [IPAddress("100.80.0.9")!], routes: [], roles: roles,
            notBefore: notBefore, notAfter: notBefore + days * 86400, issuer: authority)
    }

    func members(authorityStatus: MemberStatus?) throws -> MemberTable {
        var table = MemberTable()
        guard let authorityStatus else { return table }
        let key = Ed25519PrivateKey()
        let hub = try certificate(name: "hub", identity: key, roles: [.authority])
        let record = try NodeRecord(
            nodeID: hub.nodeID, version: 1, certificateDigest: hub.digest, flags: [], gossipEndpoints: [], wireGuardEndpoints: [],
            announcedPrefixes: [], relays: [], signedAt: start.seconds, signer: key)
        table.put(Member(certificate: hub, record: record, status: authorityStatus, statusChangedAt: start))
        return table
    }

    @Test func dueOnlyWithAThirdOfItsValidityLeft() throws {
        let cert = try certificate()
        #expect(!CertificateRenewal.isDue(cert, now: start + .seconds(59 * 86400)))
        #expect(CertificateRenewal.isDue(cert, now: start + .seconds(61 * 86400)))
        #expect(CertificateRenewal.isDue(cert, now: start + .seconds(100 * 86400)), "expired is due too")
    }

    @Test func aMemberAsksALiveAuthorityAndRetriesHourly() throws {
        let cert = try certificate(), table = try members(authorityStatus: .alive)
        let hub = try #require(table.all.first?.id)
        var renewal = CertificateRenewal()
        let due = start + .seconds(61 * 86400)
        let step1 = renewal.step(for: cert, now: start, isAuthority: false, members: table)
        #expect(step1 == .wait)
        let step2 = renewal.step(for: cert, now: due, isAuthority: false, members: table)
        #expect(step2 == .ask(hub))
        let step3 = renewal.step(for: cert, now: due + .seconds(3599), isAuthority: false, members: table)
        #expect(step3 == .wait)
        let step4 = renewal.step(for: cert, now: due + .seconds(3600), isAuthority: false, members: table)
        #expect(step4 == .ask(hub))
    }

    @Test func theAuthorityRenewsItselfAndNobodyAsksADeadOne() throws {
        let cert = try certificate(), due = start + .seconds(61 * 86400)
        var own = CertificateRenewal()
        let step5 = own.step(for: cert, now: due, isAuthority: true, members: MemberTable())
        #expect(step5 == .renewLocally)
        var member = CertificateRenewal()
        let step6 = member.step(for: cert, now: due, isAuthority: false, members: try members(authorityStatus: .dead))
        #expect(step6 == .noAuthorityReachable)
        let step7 = member.step(for: cert, now: due + .seconds(60), isAuthority: false, members: try members(authorityStatus: nil))
        #expect(step7 == .wait)
    }

    @Test func onlyARenewalOfThisNodeWithALaterExpiryIsTaken() throws {
        let current = try certificate()
        #expect(CertificateRenewal.accepts(try certificate(from: start.seconds + 60 * 86400), replacing: current))
        #expect(!CertificateRenewal.accepts(try certificate(days: 30), replacing: current), "an earlier expiry")
        #expect(!CertificateRenewal.accepts(try certificate(name: "web-2", from: start.seconds + 86400), replacing: current), "another name")
        #expect(!CertificateRenewal.accepts(try certificate(identity: Ed25519PrivateKey(), from: start.seconds + 86400), replacing: current), "another node")
    }
}

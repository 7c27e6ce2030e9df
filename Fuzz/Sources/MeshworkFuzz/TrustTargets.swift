import MeshCore
import MeshCrypto

/// The signed objects' decoders (each followed by the checks a node runs on a decoded object),
/// and invitation tokens as text.
enum TrustTargets {
    static let certificate = FuzzTarget(
        name: "certificate",
        summary: "NodeCertificate decoding and validation (issuer, network, validity, signature)",
        run: { bytes in
            let fixture = Fixture.shared
            guard let certificate = try? NodeCertificate(decoding: bytes) else { return }
            _ = try? CertificateValidator(settings: fixture.settings).validate(certificate, at: fixture.now, revoked: { _ in false })
            _ = certificate.grantedPrefixes.map(certificate.grants)
        },
        seeds: {
            let fixture = Fixture.shared
            return [fixture.victim.certificate.encoded, fixture.peer.certificate.encoded, fixture.third.certificate.encoded]
        })

    static let record = FuzzTarget(
        name: "record",
        summary: "NodeRecord decoding, signature and validation against the member's certificate",
        run: { bytes in
            let fixture = Fixture.shared
            guard let record = try? NodeRecord(decoding: bytes) else { return }
            _ = record.verify(with: fixture.peer.identity.publicKey)
            _ = try? record.validate(against: fixture.peer.certificate)
        },
        seeds: {
            let fixture = Fixture.shared
            return [fixture.record(for: fixture.peer, version: 2).encoded, fixture.record(for: fixture.peer, version: 3, left: true).encoded]
        })

    static let revocation = FuzzTarget(
        name: "revocation",
        summary: "Revocation decoding and validation",
        run: { bytes in
            guard let revocation = try? Revocation(decoding: bytes) else { return }
            _ = try? CertificateValidator(settings: Fixture.shared.settings).validate(revocation)
        },
        seeds: {
            let fixture = Fixture.shared
            return [try! Revocation(
                networkID: fixture.settings.networkID, identityKey: fixture.third.identity.publicKey, name: "third",
                revokedAt: fixture.now.seconds, keepUntil: fixture.now.seconds + 86400, issuer: fixture.authority).encoded]
        })

    static let settings = FuzzTarget(
        name: "network-settings",
        summary: "NetworkSettings decoding (the signed network parameters a joiner receives)",
        run: { bytes in _ = try? NetworkSettings(decoding: bytes) },
        seeds: { [Fixture.shared.settings.encoded] })

    /// Token text as pasted by an operator; a token that parses must print back to itself.
    static let token = FuzzTarget(
        name: "invitation-token",
        summary: "InvitationToken(text:) on arbitrary text, and its print/parse round trip",
        run: { bytes in
            guard let token = try? InvitationToken(text: String(decoding: bytes, as: UTF8.self)) else { return }
            expect((try? InvitationToken(text: token.text)) == token, "a parsed token does not survive printing and parsing")
        },
        seeds: { [Array(Fixture.shared.token.text.utf8)] })
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshCrypto
import SystemPackage

/// The authority's persistent state (`authority.json`, mode 0600): invitations, the newest
/// certificate per node name, and revoked names. JSON so an operator can read it; it holds
/// invitation secrets, hence the mode.
struct AuthorityStateFile: Codable {
    struct StoredInvitation: Codable {
        var id: String
        var secret: String
        var name: String
        var addresses: [String]
        var routes: [String]
        var roles: UInt8
        var expiresAt: UInt64
        var enrolledIdentity: String?
        var issuedCertificate: String?
    }

    var invitations: [StoredInvitation]
    var certificates: [String]
    var revokedNames: [String: UInt64]
}

extension StateDirectory {
    /// Loads the authority service for `settings`, signing with `key`.
    public func loadAuthority(settings: NetworkSettings, key: Ed25519PrivateKey) throws(StateError) -> AuthorityService {
        guard exists(authorityStatePath) else { return AuthorityService(settings: settings, key: key) }
        let bytes = try readFile(authorityStatePath, what: "the authority's invitations and certificates")
        let file: AuthorityStateFile
        do { file = try JSONDecoder().decode(AuthorityStateFile.self, from: Data(bytes)) } catch {
            throw .damaged(path: authorityStatePath.string, problem: "not valid authority state: \(error)", advice: "restore it from a backup")
        }
        var invitations: [Invitation] = []
        for stored in file.invitations {
            guard let id = Base64.decode(stored.id), let secret = Base64.decode(stored.secret) else {
                throw .damaged(path: authorityStatePath.string, problem: "invitation \(stored.name) has invalid keys", advice: "restore it from a backup")
            }
            invitations.append(Invitation(
                id: id, secret: secret, name: stored.name, addresses: stored.addresses.compactMap(IPAddress.init),
                routes: stored.routes.compactMap(IPPrefix.init), roles: NodeRoles(rawValue: stored.roles), expiresAt: stored.expiresAt,
                enrolledIdentity: stored.enrolledIdentity.flatMap { Base64.decode($0) },
                issuedCertificate: stored.issuedCertificate.flatMap { Base64.decode($0) }))
        }
        let certificates = file.certificates.compactMap { Base64.decode($0) }.compactMap { try? NodeCertificate(decoding: $0) }
        return AuthorityService(settings: settings, key: key, invitations: invitations, certificates: certificates, revokedNames: file.revokedNames)
    }

    /// Stores the authority service's state atomically (mode 0600).
    public func saveAuthority(_ service: AuthorityService) throws(StateError) {
        let file = AuthorityStateFile(
            invitations: service.invitations.values.sorted { $0.name < $1.name }.map { invitation in
                AuthorityStateFile.StoredInvitation(
                    id: Base64.encode(invitation.id), secret: Base64.encode(invitation.secret), name: invitation.name,
                    addresses: invitation.addresses.map(\.description), routes: invitation.routes.map(\.description),
                    roles: invitation.roles.rawValue, expiresAt: invitation.expiresAt,
                    enrolledIdentity: invitation.enrolledIdentity.map { Base64.encode($0) },
                    issuedCertificate: invitation.issuedCertificate.map { Base64.encode($0) })
            },
            certificates: service.certificates.values.sorted { $0.name < $1.name }.map { Base64.encode($0.encoded) },
            revokedNames: service.revokedNames)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(file) } catch {
            throw .io(path: authorityStatePath.string, operation: "encode", reason: "\(error)")
        }
        try AtomicFile.write(Array(data), to: authorityStatePath)
    }
}

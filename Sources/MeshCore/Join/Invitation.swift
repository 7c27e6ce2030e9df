/// An invitation as the authority keeps it: what the token grants and whether it was used.
public struct Invitation: Equatable, Sendable {
    /// Derived from the token secret (see ``InvitationToken/invitationID``).
    public let id: [UInt8]
    /// The one-time secret (kept to check the joiner's proof).
    public let secret: [UInt8]
    /// The name reserved for the joiner.
    public let name: String
    /// Overlay addresses reserved for the joiner.
    public let addresses: [IPAddress]
    /// Routed prefixes the joiner may announce.
    public let routes: [IPPrefix]
    /// Roles the joiner gets.
    public let roles: NodeRoles
    /// Expiry (seconds since the epoch).
    public let expiresAt: UInt64
    /// The identity that used the token, once used.
    public internal(set) var enrolledIdentity: Ed25519PublicKeyBytes?
    /// The certificate issued for it, resent if the joiner retries.
    public internal(set) var issuedCertificate: [UInt8]?

    public init(id: [UInt8], secret: [UInt8], name: String, addresses: [IPAddress], routes: [IPPrefix], roles: NodeRoles,
                expiresAt: UInt64, enrolledIdentity: Ed25519PublicKeyBytes? = nil, issuedCertificate: [UInt8]? = nil) {
        self.id = id
        self.secret = secret
        self.name = name
        self.addresses = addresses
        self.routes = routes
        self.roles = roles
        self.expiresAt = expiresAt
        self.enrolledIdentity = enrolledIdentity
        self.issuedCertificate = issuedCertificate
    }

    /// The ID as hex, the key under which invitations are stored.
    public var idHex: String { id.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// Whether it has been used.
    public var isUsed: Bool { enrolledIdentity != nil }
}

/// Raw bytes of an Ed25519 public key (kept as bytes so the type stays trivially storable).
public typealias Ed25519PublicKeyBytes = [UInt8]

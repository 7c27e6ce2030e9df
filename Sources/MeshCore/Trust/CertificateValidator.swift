/// Decides whether a certificate makes its holder a member right now: bound to this network,
/// signed by its authority, inside its validity window, and not revoked.
public struct CertificateValidator: Sendable {
    /// The network's settings (and so its authority key).
    public let settings: NetworkSettings
    /// Tolerated clock difference when checking the start of validity windows (a certificate
    /// issued by an authority whose clock runs ahead). The end is absolute: a member whose
    /// certificate expired is removed while running, so tolerating skew there would let it flap.
    public var clockSkew: UInt64 = 300

    public init(settings: NetworkSettings) { self.settings = settings }

    /// Throws the reason `certificate` is not acceptable at `now`.
    public func validate(_ certificate: NodeCertificate, at now: Timestamp, revoked: (NodeID) -> Bool) throws(TrustError) {
        guard certificate.networkID == settings.networkID else { throw .wrongNetwork }
        guard certificate.issuerKey == settings.authorityKey else { throw .wrongAuthority }
        let seconds = now.seconds
        guard seconds + clockSkew >= certificate.notBefore else { throw .notYetValid }
        guard !Self.hasExpired(certificate, at: now) else { throw .expired }
        guard !revoked(certificate.nodeID) else { throw .revoked }
    }

    /// Whether `certificate` is past its end of validity at `now`.
    public static func hasExpired(_ certificate: NodeCertificate, at now: Timestamp) -> Bool {
        now.seconds > certificate.notAfter
    }

    /// Whether parsed, unverified certificate fields are past their end of validity at `now`.
    public static func hasExpired(_ fields: NodeCertificate.Fields, at now: Timestamp) -> Bool {
        now.seconds > fields.notAfter
    }

    /// Throws unless `revocation` is for this network and signed by its authority.
    public func validate(_ revocation: Revocation) throws(TrustError) {
        guard revocation.networkID == settings.networkID else { throw .wrongNetwork }
        guard revocation.issuerKey == settings.authorityKey else { throw .wrongAuthority }
    }
}

/// Decides whether a certificate makes its holder a member right now: bound to this network,
/// signed by its authority, inside its validity window, and not revoked.
public struct CertificateValidator: Sendable {
    /// The network's settings (and so its authority key).
    public let settings: NetworkSettings
    /// Tolerated clock difference when checking validity windows.
    public var clockSkew: UInt64 = 300

    public init(settings: NetworkSettings) { self.settings = settings }

    /// Throws the reason `certificate` is not acceptable at `now`.
    public func validate(_ certificate: NodeCertificate, at now: Timestamp, revoked: (NodeID) -> Bool) throws(TrustError) {
        guard certificate.networkID == settings.networkID else { throw .wrongNetwork }
        guard certificate.issuerKey == settings.authorityKey else { throw .wrongAuthority }
        let seconds = now.seconds
        guard seconds + clockSkew >= certificate.notBefore else { throw .notYetValid }
        guard seconds <= certificate.notAfter + clockSkew else { throw .expired }
        guard !revoked(certificate.nodeID) else { throw .revoked }
    }

    /// Throws unless `revocation` is for this network and signed by its authority.
    public func validate(_ revocation: Revocation) throws(TrustError) {
        guard revocation.networkID == settings.networkID else { throw .wrongNetwork }
        guard revocation.issuerKey == settings.authorityKey else { throw .wrongAuthority }
    }
}

import MeshCore

/// When and how this node renews its certificate, without I/O: once a third of its validity is
/// left, the authority node signs a new one itself and any other node asks a live authority over
/// the secure channel, at most once per ``AgentTiming/renewalRetry``. Nothing for the operator to do.
package struct CertificateRenewal {
    /// When renewal was last tried (zero: never).
    package private(set) var lastAttempt = Timestamp.zero

    package init() {}

    /// What to do now.
    package enum Step: Equatable {
        /// Not due, or tried within ``AgentTiming/renewalRetry``.
        case wait
        /// This node is the authority: sign a new certificate itself.
        case renewLocally
        /// Send a renewal request to this authority member.
        case ask(NodeID)
        /// Due, but no authority is live to ask (said once per retry interval).
        case noAuthorityReachable
    }

    /// Whether `certificate` is due for renewal at `now`: less than a third of its validity left.
    package static func isDue(_ certificate: NodeCertificate, now: Timestamp) -> Bool {
        let lifetime = certificate.notAfter > certificate.notBefore ? certificate.notAfter - certificate.notBefore : 0
        let remaining = certificate.notAfter > now.seconds ? certificate.notAfter - now.seconds : 0
        return remaining < lifetime / 3
    }

    /// When ``step(for:now:isAuthority:members:)`` may next do something for `certificate`: the
    /// moment it becomes due, or, once due, the next retry.
    package func nextDeadline(for certificate: NodeCertificate, now: Timestamp) -> Timestamp {
        guard Self.isDue(certificate, now: now) else {
            let lifetime = certificate.notAfter > certificate.notBefore ? certificate.notAfter - certificate.notBefore : 0
            return Timestamp(seconds: certificate.notAfter - lifetime / 3 + 1)
        }
        return lastAttempt == .zero ? now : lastAttempt + AgentTiming.renewalRetry
    }

    /// The step for `certificate` at `now`; `isAuthority`: this node holds the authority's key;
    /// `members`: the member table, where a live member with the authority role is asked.
    package mutating func step(for certificate: NodeCertificate, now: Timestamp, isAuthority: Bool, members: MemberTable) -> Step {
        guard Self.isDue(certificate, now: now), lastAttempt == .zero || now - lastAttempt >= AgentTiming.renewalRetry else { return .wait }
        lastAttempt = now
        if isAuthority { return .renewLocally }
        guard let authority = members.all.first(where: { $0.status.isLive && $0.certificate.roles.contains(.authority) }) else {
            return .noAuthorityReachable
        }
        return .ask(authority.id)
    }

    /// Whether `renewed`, from the authority, may replace `current`: the same node (identity and
    /// WireGuard keys, name) and a later expiry. Anything else is ignored.
    package static func accepts(_ renewed: NodeCertificate, replacing current: NodeCertificate) -> Bool {
        renewed.identityKey == current.identityKey && renewed.wireGuardKey == current.wireGuardKey
            && renewed.name == current.name && renewed.notAfter > current.notAfter
    }
}

/// Certificates that expire while the node runs: the member leaves the table (and so WireGuard,
/// which the agent derives from it), its sessions go, and its datagrams are dropped as
/// `expired-certificate` until a renewed certificate makes it a member again.
extension MeshNode {
    /// How often the member table is scanned for expired certificates (expiry is also noticed
    /// at once when an expired member's datagram arrives).
    static let certificateCheckInterval = Interval.seconds(10)

    /// Whether `certificate` is past its validity at `now` (the validator's rule).
    func hasExpired(_ certificate: NodeCertificate, at now: Timestamp) -> Bool {
        CertificateValidator.hasExpired(certificate, at: now)
    }

    /// Removes members (and admitted newcomers) whose certificate expired.
    func expireCertificates(now: Timestamp) {
        var expired: [NodeID] = []
        // The table is scanned only once its earliest expiry has passed (large meshes scan rarely).
        if now.seconds > earliestCertificateExpiry {
            var earliest = UInt64.max
            for member in members.all where member.status != .revoked {
                if hasExpired(member.certificate, at: now) {
                    expired.append(member.id)
                } else {
                    earliest = min(earliest, member.certificate.notAfter)
                }
            }
            earliestCertificateExpiry = earliest
        }
        for (node, certificate) in admittedCertificates where hasExpired(certificate, at: now) { expired.append(node) }
        for node in expired.sorted() { expireMember(node, now: now) }
        // Remember expired members only as long as a dead one is remembered.
        expiredMembers = expiredMembers.filter { now - $0.value < timing.deadRetention }
    }

    /// Forgets `node`, whose certificate expired.
    func expireMember(_ node: NodeID, now: Timestamp) {
        let wasMember = members[node] != nil
        members.remove(node)
        admittedCertificates[node] = nil
        suspicions[node] = nil
        staticKeys[node] = nil
        contactEndpoints[node] = nil
        candidateCursor[node] = nil
        broadcasts.cancel(.record(node))
        broadcasts.cancel(.verdict(node))
        channel.forget(node)
        expiredMembers[node] = now
        if wasMember { events.append(.memberForgotten(node)) }
    }

    /// Why a datagram from `node` is refused before any work is spent on it, if it is.
    func senderRefusal(_ node: NodeID) -> DropReason? {
        expiredMembers.isEmpty || expiredMembers[node] == nil ? nil : .expiredCertificate
    }
}

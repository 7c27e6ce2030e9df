import MeshCrypto

/// This node's own record, leaving, and revocations.
extension MeshNode {
    /// Announces new endpoints, prefixes or flags: publishes a new record version if anything changed.
    public func announce(_ newAnnouncement: LocalAnnouncement, now: Timestamp) {
        guard newAnnouncement != announcement, !hasLeft else { return }
        announcement = newAnnouncement
        publish(now: now)
    }

    /// Signs and spreads a new version of the local record.
    func publish(now: Timestamp, atLeast minimum: UInt64 = 0) {
        guard !hasLeft else { return }
        let version = max(RecordVersion.successor(of: localRecord.version), minimum, RecordVersion.clockVersion(at: now))
        guard let record = try? Self.sign(
            announcement, reflexive: reflexiveGossipEndpoint, left: false, version: version,
            certificate: certificate, identity: identity, now: now)
        else { return }
        localRecord = record
        events.append(.localRecordPublished(version: version))
        broadcast(.record(record.encoded), about: .record(id), now: now)
    }

    /// Leaves the network: signs a tombstone and pushes it to more members than usual. The node
    /// stops probing and gossiping afterwards; keep running it a moment so the pushes go out.
    public func leave(now: Timestamp) {
        guard !hasLeft else { return }
        let version = max(RecordVersion.successor(of: localRecord.version), RecordVersion.clockVersion(at: now))
        guard let tombstone = try? Self.sign(
            announcement, reflexive: nil, left: true, version: version, certificate: certificate, identity: identity, now: now)
        else { return }
        localRecord = tombstone
        broadcasts.enqueue(.record(tombstone.encoded), about: .record(id))
        gossipRound(fanout: timing.gossipFanout * 3, now: now)
        hasLeft = true
        events.append(.localRecordPublished(version: version))
    }

    /// Whether this node has left.
    public var isLeaving: Bool { hasLeft }

    /// Applies and spreads a revocation (issued by the authority, or received).
    @discardableResult
    public func addRevocation(_ revocation: Revocation, now: Timestamp) -> Bool {
        applyRevocation(revocation, now: now, spread: true)
    }

    func applyRevocation(_ revocation: Revocation, now: Timestamp, spread: Bool) -> Bool {
        do {
            try validator.validate(revocation)
        } catch {
            channel.countDrop(.invalidRevocation)
            return false
        }
        let node = revocation.nodeID
        guard revocations[node] == nil else { return false }
        revocations[node] = revocation
        revocationHash ^= AntiEntropy.mix(node.value)
        admittedCertificates[node] = nil
        contacts[node] = nil
        suspicions[node] = nil
        if var member = members[node] {
            member.status = .revoked
            member.statusChangedAt = now
            members.put(member)
            events.append(.statusChanged(node, .revoked))
        }
        channel.forget(node)
        if spread { broadcast(.revocation(revocation.encoded), about: .revocation(node), now: now) }
        return true
    }

    /// Forgets tombstones whose time is up: dead and left members, and revocations past the
    /// expiry of every certificate they void.
    func expireTombstones(now: Timestamp) {
        var expired: [NodeID] = []
        for node in members.tombstones {
            guard let member = members[node] else { continue }
            let age = now - member.statusChangedAt
            switch member.status {
            case .dead where age >= timing.deadRetention: expired.append(member.id)
            case .left where age >= timing.leftRetention: expired.append(member.id)
            default: break
            }
        }
        for node in revocations.keys where (revocations[node]?.keepUntil ?? 0) < now.seconds {
            expired.append(node)
        }
        for node in expired.sorted() {
            members.remove(node)
            if let revocation = revocations.removeValue(forKey: node) {
                revocationHash ^= AntiEntropy.mix(revocation.nodeID.value)
            }
            staticKeys[node] = nil
            contactEndpoints[node] = nil
            events.append(.memberForgotten(node))
        }
    }

    /// Installs a renewed certificate for this node and publishes a record under it.
    public func renewCertificate(_ renewed: NodeCertificate, now: Timestamp) throws(TrustError) {
        guard renewed.identityKey == identity.publicKey else { throw .identityMismatch }
        try validator.validate(renewed, at: now, revoked: { self.revocations[$0] != nil })
        certificate = renewed
        channel.certificate = renewed
        publish(now: now)
    }
}

/// Dissemination: records, verdicts and revocations, merged by the SWIM rules and spread by
/// piggybacking, immediate pushes and gossip rounds.
extension MeshNode {
    /// Dispatches the messages of one authenticated datagram.
    func handlePayload(_ payload: [UInt8], from sender: NodeID, endpoint: SocketEndpoint, now: Timestamp) {
        let messages: [Message]
        do {
            messages = try Message.decodeAll(payload)
        } catch {
            channel.countDrop(.invalidMessage)
            return
        }
        noteContact(sender, at: endpoint, now: now)
        let allowance = min(Self.replyAllowance(forPayload: payload.count), Int(replyBudgets.available(to: sender, now: now)))
        replyAllowance = (sender, allowance, false)
        defer { replyAllowance = nil }
        for message in messages {
            statistics.messagesReceived[Int(message.code & 63)] += 1
            switch message {
            case let .ping(sequence, target): handlePing(sequence: sequence, target: target, from: sender, now: now)
            case let .ack(sequence): handleAck(sequence: sequence, from: sender, now: now)
            case let .pingRequest(sequence, target, hint):
                handlePingRequest(sequence: sequence, target: target, hint: hint, from: sender, now: now)
            case let .nack(sequence): handleNack(sequence: sequence, from: sender)
            case let .suspect(node, incarnation, reporter):
                handleSuspect(node: node, version: incarnation, reporter: reporter, from: sender, now: now)
                answerRefutation(about: node, incarnation: incarnation, to: sender)
            case let .dead(node, incarnation, reporter):
                handleDead(node: node, version: incarnation, reporter: reporter, from: sender, now: now)
                answerRefutation(about: node, incarnation: incarnation, to: sender)
            case let .record(bytes):
                guard let record = decodeRecord(bytes) else { continue }
                accept(record, certificate: nil, from: sender, spread: true, now: now)
            case let .member(certificateBytes, recordBytes):
                guard let record = decodeRecord(recordBytes) else { continue }
                guard let certificate = memberCertificate(certificateBytes, of: record.nodeID) else { continue }
                accept(record, certificate: certificate, from: sender, spread: !antiEntropyRequested.contains(record.nodeID), now: now)
                antiEntropyRequested.remove(record.nodeID)
            case let .revocation(bytes):
                guard let revocation = try? Revocation(decoding: bytes) else {
                    channel.countDrop(.invalidRevocation)
                    continue
                }
                _ = applyRevocation(revocation, now: now, spread: true)
            case let .digest(digest): handleDigest(digest, from: sender, now: now)
            case let .bucket(summary): handleBucket(summary, from: sender, now: now)
            case let .request(nodes): handleRequest(nodes, from: sender, now: now)
            case let .endpointReport(reported): handleEndpointReport(reported, from: sender, now: now)
            case let .extensionMessage(type, body):
                events.append(.extensionMessage(from: sender, type: type, body: body, endpoint: endpoint))
            }
        }
        if let used = replyAllowance.map({ allowance - $0.bytes }), used > 0 {
            _ = replyBudgets.take(from: sender, now: now, cost: Double(used))
        }
        replyAllowance = nil
        flushReplies(now: now)
    }

    /// The certificate in a `member` message: the one already held if identical (no signature to
    /// check again), else decoded after the cheap checks (network and issuer) pass.
    private func memberCertificate(_ bytes: [UInt8], of node: NodeID) -> NodeCertificate? {
        if let known = members[node]?.certificate ?? admittedCertificates[node], known.encoded == bytes { return known }
        guard let fields = try? NodeCertificate.parse(bytes) else {
            channel.countDrop(.invalidRecord)
            return nil
        }
        guard fields.networkID == settings.networkID, fields.issuerKey == settings.authorityKey else {
            channel.countDrop(.foreignCertificate)
            return nil
        }
        guard let certificate = try? NodeCertificate(decoding: bytes) else {
            channel.countDrop(.invalidRecord)
            return nil
        }
        return certificate
    }

    private func decodeRecord(_ bytes: [UInt8]) -> NodeRecord? {
        guard let record = try? NodeRecord(decoding: bytes) else {
            channel.countDrop(.invalidRecord)
            return nil
        }
        return record
    }

    /// Merges a record (and its certificate, when sent along): the newest valid version wins.
    func accept(_ record: NodeRecord, certificate offered: NodeCertificate?, from sender: NodeID?, spread: Bool, now: Timestamp) {
        let node = record.nodeID
        guard RecordVersion.isAcceptable(record.version, at: now) else {
            channel.countDrop(.futureVersion)
            return
        }
        if node == id {
            // Our own record from an earlier life is newer than what we hold: jump past it.
            if record.version > localRecord.version, record.verify(with: identity.publicKey) {
                publish(now: now, atLeast: RecordVersion.successor(of: record.version))
            }
            return
        }
        if !revocations.isEmpty, revocations[node] != nil {
            channel.countDrop(.revokedRecord)
            return
        }
        let existing = members[node]
        // A held version from the future (kept from before versions were bounded) never blocks a sane one.
        if let existing, record.version <= existing.record.version, RecordVersion.isAcceptable(existing.record.version, at: now) { return }
        let certificate: NodeCertificate
        if let offered, offered.digest == record.certificateDigest {
            certificate = offered
        } else if let known = existing?.certificate ?? admittedCertificates[node], known.digest == record.certificateDigest {
            certificate = known
        } else {
            // We lack the certificate this record is made under: ask whoever sent it.
            if let sender { queueReply(.request([node]), to: sender) }
            return
        }
        if certificate !== existing?.certificate {
            do {
                try validator.validate(certificate, at: now, revoked: { self.revocations[$0] != nil })
            } catch {
                channel.countDrop(Self.dropReason(for: error))
                return
            }
        } else if hasExpired(certificate, at: now) {
            channel.countDrop(.expiredCertificate)
            expireMember(node, now: now)
            return
        }
        do {
            try record.validate(against: certificate)
        } catch {
            channel.countDrop(Self.dropReason(for: error))
            return
        }
        admittedCertificates[node] = nil
        expiredMembers[node] = nil
        earliestCertificateExpiry = min(earliestCertificateExpiry, certificate.notAfter)
        let status: MemberStatus = record.isTombstone ? .left : .alive
        var member = Member(certificate: certificate, record: record, status: status, statusChangedAt: now)
        if let existing, existing.status == status { member.statusChangedAt = existing.statusChangedAt }
        members.put(member)
        suspicions[node] = nil
        if existing == nil {
            events.append(.memberAdded(node))
        } else if existing?.status != status {
            events.append(.statusChanged(node, status))
        }
        events.append(.memberUpdated(node, version: record.version))
        if status == .left { channel.forget(node) }
        guard spread else { return }
        let isNew = existing == nil || certificate !== existing?.certificate
        let message: Message = isNew ? .member(certificate: certificate.encoded, record: record.encoded) : .record(record.encoded)
        broadcast(message, about: .record(node), now: now)
    }

    static func dropReason(for error: TrustError) -> DropReason {
        switch error {
        case .wrongNetwork, .wrongAuthority: return .foreignCertificate
        case .expired, .notYetValid: return .expiredCertificate
        case .revoked: return .revokedRecord
        case .outsideGrant: return .outsideGrant
        default: return .invalidRecord
        }
    }

    // MARK: Verdicts

    /// Starts suspecting `member`. `confirmedBy` is who vouches for it, as far as this node can
    /// tell: itself, or the authenticated sender of the datagram (never the unsigned `reporter`
    /// field, which only travels along in the gossip).
    func raiseSuspicion(of member: Member, version: UInt64, reporter: NodeID, confirmedBy voucher: NodeID, now: Timestamp) {
        let n = Double(max(members.liveCount, 1) + 1)
        let minimum = timing.probeInterval * (timing.suspicionMultiplier * max(1, log10(n)))
        let suspicion = Suspicion(
            version: version, reporter: voucher, startedAt: now, minimum: minimum,
            maximum: minimum * timing.suspicionMaximumMultiplier, expectedConfirmations: timing.indirectProbes)
        var updated = member
        updated.status = .suspect
        updated.statusVersion = version
        updated.statusChangedAt = now
        members.put(updated)
        suspicions[member.id] = suspicion
        if voucher != id, suspectsToProbe.count < Self.maximumSuspectsToProbe, !suspectsToProbe.contains(member.id) {
            suspectsToProbe.append(member.id)
        }
        statistics.suspicionsRaised += voucher == id ? 1 : 0
        events.append(.statusChanged(member.id, .suspect))
        broadcast(.suspect(node: member.id, incarnation: version, reporter: reporter), about: .verdict(member.id), now: now, push: false)
    }

    /// A suspicion of `node` heard from `sender` (authenticated); Lifeguard confirmations count
    /// distinct senders, so one member cannot make up several.
    func handleSuspect(node: NodeID, version: UInt64, reporter: NodeID, from sender: NodeID, now: Timestamp) {
        guard RecordVersion.isAcceptable(version, at: now) else {
            channel.countDrop(.futureVersion)
            return
        }
        if node == id {
            if version >= localRecord.version {
                refute(now: now)
            } else {
                // The sender still suspects a version this node has already refuted (the
                // refutation's gossip missed it): answer with the current record directly. After a
                // partition heal, a member otherwise stayed suspect for 11 s, until anti-entropy.
                queueReply(.record(localRecord.encoded), to: sender)
            }
            return
        }
        guard let member = members[node], version >= member.record.version else { return }
        switch member.status {
        case .alive:
            raiseSuspicion(of: member, version: member.record.version, reporter: reporter, confirmedBy: sender, now: now)
        case .suspect:
            if var suspicion = suspicions[node], suspicion.confirm(by: sender) {
                suspicions[node] = suspicion
                broadcast(.suspect(node: node, incarnation: version, reporter: reporter), about: .verdict(node), now: now, push: false)
            }
        case .dead, .left, .revoked:
            break
        }
    }

    /// Another member's death verdict counts as a suspicion from its sender: the target still
    /// has the suspicion timeout to refute, and one member alone cannot kill another at once.
    func handleDead(node: NodeID, version: UInt64, reporter: NodeID, from sender: NodeID, now: Timestamp) {
        handleSuspect(node: node, version: version, reporter: reporter, from: sender, now: now)
    }

    func declareDead(_ member: Member, reporter: NodeID, now: Timestamp) {
        var updated = member
        updated.status = .dead
        updated.statusVersion = member.record.version
        updated.statusChangedAt = now
        members.put(updated)
        suspicions[member.id] = nil
        if reporter == id { statistics.deathsDeclared += 1 }
        lastDeathAt = now
        // Reconnection turns frequent now (see ``MeshTiming/recentDeathReconnectInterval``).
        nextReconnectAt = min(nextReconnectAt, now + reconnectPeriod(now: now))
        events.append(.statusChanged(member.id, .dead))
        broadcast(.dead(node: member.id, incarnation: member.record.version, reporter: reporter), about: .verdict(member.id), now: now)
    }

    func expireSuspicions(now: Timestamp) {
        for node in suspicions.keys.sorted() {
            guard let suspicion = suspicions[node], now >= suspicion.deadline else { continue }
            suspicions[node] = nil
            guard let member = members[node], member.status == .suspect, member.record.version == suspicion.version else { continue }
            declareDead(member, reporter: id, now: now)
        }
    }

    /// Answers a suspicion about this node with a newer record (Lifeguard counts it against our health).
    /// A suspicion (or death) of this node, just handled, is answered with the node's current
    /// record, which refutes it: the node that told it hears the refutation at once (gossip carries it to the others): an accuser many gossip hops away, or
    /// one that probes this node rarely, need not wait for the epidemic.
    func answerRefutation(about node: NodeID, incarnation: UInt64, to sender: NodeID) {
        guard node == id, localRecord.version > incarnation, sender != id else { return }
        queueReply(.record(localRecord.encoded), to: sender)
    }

    func refute(now: Timestamp) {
        health.worsen()
        statistics.refutations += 1
        publish(now: now, atLeast: RecordVersion.successor(of: localRecord.version))
        events.append(.refuted(version: localRecord.version))
    }

    // MARK: Spreading

    /// Queues `message` for gossip and, for new information, pushes it at once to a few members.
    func broadcast(_ message: Message, about subject: BroadcastQueue.Subject, now: Timestamp, push: Bool = true) {
        broadcasts.enqueue(message, about: subject)
        if push { gossipRound(fanout: timing.gossipFanout, now: now) }
    }

    /// Sends queued broadcasts to `fanout` random live members, and to one recently dead member
    /// (so it can refute) besides: when dead members took fanout slots, a refutation after a
    /// partition heal could miss a live member of its own side (it stayed suspect there for 11 s).
    func gossipRound(fanout: Int, now: Timestamp) {
        var targets = randomMembers(count: fanout, includeRecentlyDead: false, now: now)
        if let lastDeathAt, now - lastDeathAt < timing.gossipToDeadFor,
           let recentlyDead = randomMembers(count: fanout + 1, includeRecentlyDead: true, now: now).first(where: { candidate in
               !targets.contains(candidate) && members[candidate]?.status == .dead
           }) {
            targets.append(recentlyDead)
        }
        for target in targets {
            guard !broadcasts.isEmpty else { return }
            sendPacked([], to: target, now: now, piggyback: true, oneShot: true)
        }
    }

    /// How many times each broadcast is sent: grows with log N so coverage stays near complete.
    var retransmitLimit: Int {
        timing.retransmitMultiplier * Int(log10(Double(members.liveCount + 2)).rounded(.up))
    }

    /// Up to `count` distinct random members that are live (or recently dead, for gossip).
    func randomMembers(count: Int, includeRecentlyDead: Bool, now: Timestamp, excluding excluded: NodeID? = nil) -> [NodeID] {
        let total = members.orderCount
        guard total > 0, count > 0 else { return [] }
        var chosen: [NodeID] = []
        var attempts = 0
        while chosen.count < count, attempts < count * 8 + 16 {
            attempts += 1
            let index = Int.random(in: 0..<total, using: &random)
            guard let member = members.member(atOrder: index), member.id != excluded, !chosen.contains(member.id) else { continue }
            let recentlyDead = member.status == .dead && now - member.statusChangedAt < timing.gossipToDeadFor
            if member.status.isLive || (includeRecentlyDead && recentlyDead) { chosen.append(member.id) }
        }
        return chosen
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The probe in progress (SWIM: direct ping, then indirect pings through others).
struct ProbeState {
    let sequence: UInt32
    let target: NodeID
    let targetVersion: UInt64
    let startedAt: Timestamp
    /// When to ask others if no ack came.
    let indirectAt: Timestamp
    /// End of this probe period: decide.
    let endsAt: Timestamp
    var acked = false
    var indirectSent = false
    /// Members asked to probe the target indirectly: the only ones whose acks and nacks count.
    var helpers: Set<NodeID> = []
    /// Helpers that answered "no answer" (each counts once).
    var nackedBy: Set<NodeID> = []
    var nacks: Int { nackedBy.count }
    var expectedNacks: Int { helpers.count }

    var nextDeadline: Timestamp { acked ? endsAt : (indirectSent ? endsAt : min(indirectAt, endsAt)) }
}

/// A ping this node sends on behalf of another (indirect probe).
struct RelayedProbe {
    let requester: NodeID
    let requesterSequence: UInt32
    /// The member pinged: only its ack is passed on.
    let target: NodeID
    /// When to tell the requester "no answer" (Lifeguard's nack).
    let nackAt: Timestamp
}

extension MeshNode {
    /// Starts, escalates or concludes the current probe.
    func advanceProbe(now: Timestamp) {
        if var current = probe {
            if !current.acked, !current.indirectSent, now >= current.indirectAt {
                current.indirectSent = true
                let helpers = randomMembers(count: timing.indirectProbes, includeRecentlyDead: false, now: now, excluding: current.target)
                current.helpers = Set(helpers)
                let hint = endpoint(for: current.target)
                // Ask again directly as well: one lost datagram should not make a suspicion.
                send(pingMessages(current.sequence, target: current.target), to: current.target, now: now)
                for helper in helpers {
                    send([.pingRequest(sequence: current.sequence, target: current.target, endpoint: hint)], to: helper, now: now)
                }
                // Try the next announced endpoint on the next probe of this member.
                candidateCursor[current.target, default: 0] += 1
                contactEndpoints[current.target] = nil
            }
            probe = current
            guard now >= current.endsAt else { return }
            concludeProbe(current, now: now)
            probe = nil
        }
        guard now >= nextProbeAt else { return }
        let period = timing.probeInterval * health.multiplier
        nextProbeAt = now + period
        guard let target = nextProbeTarget() else { return }
        sequence = unpredictableSequence()
        let timeout = timing.probeTimeout * health.multiplier
        probe = ProbeState(
            sequence: sequence, target: target.id, targetVersion: target.record.version, startedAt: now,
            indirectAt: now + timeout, endsAt: now + period)
        statistics.probesSent += 1
        send(pingMessages(sequence, target: target.id), to: target.id, now: now)
    }

    /// A ping, with our suspicion of the target attached when we hold one (Lifeguard's buddy
    /// system: a suspected member learns it at once and refutes).
    func pingMessages(_ sequence: UInt32, target: NodeID) -> [Message] {
        var messages: [Message] = [.ping(sequence: sequence, target: target)]
        if let member = members[target], member.status == .suspect, let suspicion = suspicions[target] {
            messages.append(.suspect(node: target, incarnation: suspicion.version, reporter: id))
        }
        return messages
    }

    private func concludeProbe(_ finished: ProbeState, now: Timestamp) {
        if finished.acked {
            health.improve()
            return
        }
        statistics.probesFailed += 1
        // Lifeguard: missing nacks mean our own messages are not getting through.
        if finished.nacks < finished.expectedNacks || finished.expectedNacks == 0 { health.worsen() }
        guard let member = members[finished.target], member.record.version == finished.targetVersion else { return }
        switch member.status {
        case .alive:
            raiseSuspicion(of: member, version: member.record.version, reporter: id, confirmedBy: id, now: now)
            // The suspect hears it at once, so it can refute even if gossip reaches it late (in a
            // large mesh the next probe of it may be minutes away).
            send([.suspect(node: member.id, incarnation: member.record.version, reporter: id)], to: member.id, now: now)
        case .suspect:
            // Our own failed probe independently confirms the suspicion (Lifeguard).
            handleSuspect(node: member.id, version: member.record.version, reporter: id, from: id, now: now)
        default:
            break
        }
    }

    /// The member to probe this period: first a member suspected on others' word that this node
    /// has not probed since (the ping carries the suspicion, and a live suspect answers it with
    /// its newer record: a refutation whose gossip missed this node otherwise waited for the
    /// round-robin to come to the suspect, 6.7 s after a partition heal in the simulator), then the
    /// next member in the shuffled order.
    func nextProbeTarget() -> Member? {
        while !suspectsToProbe.isEmpty {
            let suspect = suspectsToProbe.removeFirst()
            if let member = members[suspect], member.status == .suspect { return member }
        }
        let count = members.orderCount
        for _ in 0..<min(count, 64) {
            guard let index = probeOrder.next(count: count, random: &random) else { return nil }
            // The slot of this node itself (hidden in the table) is skipped, not the period: a
            // period that drew it probed nobody (a third of all periods in a mesh of three).
            if let member = members.member(atOrder: index), member.status.isLive { return member }
        }
        return nil
    }

    func handlePing(sequence: UInt32, target: NodeID, from sender: NodeID, now: Timestamp) {
        guard target == id else {
            channel.countDrop(.invalidMessage)
            return
        }
        send([.ack(sequence: sequence)], to: sender, now: now)
    }

    /// An ack counts only from whom it is expected: the probed member, or a member asked to probe
    /// it indirectly (and, for a ping sent on another's behalf, its target). Sequence numbers are
    /// random, so a member cannot ack a probe it did not see either.
    func handleAck(sequence: UInt32, from sender: NodeID, now: Timestamp) {
        if var current = probe, current.sequence == sequence, !current.acked {
            guard sender == current.target || current.helpers.contains(sender) else {
                channel.countDrop(.unexpectedAck)
                return
            }
            current.acked = true
            probe = current
            if sender == current.target { recordRoundTrip(now - current.startedAt, to: sender) }
            return
        }
        if let relayed = relayedProbes[sequence] {
            guard sender == relayed.target else {
                channel.countDrop(.unexpectedAck)
                return
            }
            relayedProbes[sequence] = nil
            send([.ack(sequence: relayed.requesterSequence)], to: relayed.requester, now: now)
        }
        // Anything else is a late or duplicate ack (a direct and an indirect one both came back).
    }

    /// A fresh random probe sequence number, unused by the current probe and relayed probes.
    func unpredictableSequence() -> UInt32 {
        while true {
            let candidate = UInt32.random(in: 1...UInt32.max, using: &random)
            if candidate != probe?.sequence, relayedProbes[candidate] == nil { return candidate }
        }
    }

    /// Most pings this node sends on others' behalf at once, and per requester: each request
    /// costs a ping and a reply, so a member cannot make this node probe on its behalf unboundedly.
    static let relayedProbeLimit = 64
    static let relayedProbesPerRequester = 8

    /// Smooths round-trip samples (RFC 6298's α = 1/8), for relay choice and `meshctl peers`.
    func recordRoundTrip(_ sample: Interval, to node: NodeID) {
        if let previous = roundTrips[node] {
            roundTrips[node] = .seconds(previous.seconds * 0.875 + sample.seconds * 0.125)
        } else {
            roundTrips[node] = sample
        }
    }

    func handleNack(sequence: UInt32, from sender: NodeID) {
        guard var current = probe, current.sequence == sequence else { return }
        guard current.helpers.contains(sender) else {
            channel.countDrop(.unexpectedAck)
            return
        }
        current.nackedBy.insert(sender)
        probe = current
    }

    func handlePingRequest(sequence requesterSequence: UInt32, target: NodeID, hint: SocketEndpoint?, from requester: NodeID, now: Timestamp) {
        guard target != id, target != requester, members[target] != nil || contacts[target] != nil else { return }
        guard relayedProbes.count < Self.relayedProbeLimit,
              relayedProbes.values.lazy.filter({ $0.requester == requester }).count < Self.relayedProbesPerRequester
        else {
            channel.countDrop(.overBudget)
            return
        }
        let sequence = unpredictableSequence()
        relayedProbes[sequence] = RelayedProbe(
            requester: requester, requesterSequence: requesterSequence, target: target,
            nackAt: now + timing.probeTimeout * 0.8)
        if let hint, contactEndpoints[target] == nil { contactEndpoints[target] = hint }
        send([.ping(sequence: sequence, target: target)], to: target, now: now)
    }

    func expireRelayedProbes(now: Timestamp) {
        for sequence in relayedProbes.keys.sorted() {
            guard let relayed = relayedProbes[sequence], now >= relayed.nackAt else { continue }
            relayedProbes[sequence] = nil
            send([.nack(sequence: relayed.requesterSequence)], to: relayed.requester, now: now)
        }
    }
}

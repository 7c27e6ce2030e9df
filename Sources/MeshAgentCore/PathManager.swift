#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// Decides, per peer, whether WireGuard traffic goes direct or through a relay (sans-I/O: fed
/// probe answers, traffic activity and relay answers with the time, it returns actions).
///
/// - Only peers with traffic are watched (SWIM already watches liveness), and only while this end
///   sends without receiving: a path whose WireGuard receive counter keeps advancing is working
///   and needs no probes (``noteReceived(_:now:)``), so a pair with two-way traffic is quiet. Once
///   WireGuard sends and nothing comes back, the path is probed every ``Settings/probeInterval``;
///   with no answer for ``Settings/failureTimeout`` and no data received for as long, it is
///   declared failed and a relay that both ends reach is requested. Data getting through is a
///   working path even when the peer's agent is not answering (it is restarting, say), and a lossy
///   path that still carries data stays put.
/// - While relayed, the relay is probed the same way (a silent relay is replaced), and the direct
///   path is retried after a backoff; it is taken back after ``Settings/healProbes`` answers in a
///   row (hysteresis). Falling back to the relay soon after healing doubles the next backoff.
/// - Both ends switch together: the relay tells the other end when it grants, and an end that
///   goes back to direct tells the other one (``Action/notifyDirect(_:)``).
/// - Leases are refreshed while the pair has traffic; an idle pair gives its allocation back.
///
/// Grants are believed only as far as they are checked (``grantReceived(id:peer:endpoint:from:senderIsRelay:peerIsLiveMember:leads:now:)``):
/// the sender must hold the relay role and flag; a grant with an id answers our pending request
/// to that relay for that peer (ids are random); an unsolicited grant (id 0, the relay telling
/// the other end of a pair) is a hint, taken only while our own direct path to that peer is in
/// doubt — otherwise it is held while the direct path is probed, and taken only if probes go
/// unanswered for ``Settings/hintDoubt``. Refusals and acks must answer what we asked that
/// sender. Everything refused is counted in ``drops``.
package struct PathManager {
    package struct Settings {
        package init() {}
        package var probeInterval = Interval.milliseconds(100)
        /// Unanswered direct probes (and no data received) for this long on a clean path: failed.
        package var failureTimeout = Interval.milliseconds(450)
        /// A lossy path needs more evidence: enough unanswered probes in a row that its measured
        /// loss would produce them by chance with at most this probability (30 % loss each way
        /// loses about half of all probe round trips: 11 in a row, 1.1 s).
        package var falseFailureProbability = 0.001
        /// …but never more than this (a lossy path that is cut still fails over this fast).
        package var maximumFailureTimeout = Interval.seconds(2)
        /// A probe not answered this long counts as lost in the path's loss estimate.
        package var probeLossJudgedAfter = Interval.seconds(1)
        /// Weight of each probe's outcome in the loss estimate (an exponential moving average).
        package var lossWeight = 0.1
        package var healProbeInterval = Interval.milliseconds(250)
        package var healProbes = 4
        package var initialRetryBackoff = Interval.seconds(1)
        package var maximumRetryBackoff = Interval.seconds(30)
        package var relapseWindow = Interval.seconds(60)
        package var activityWindow = Interval.seconds(10)
        package var refreshInterval = Interval.seconds(10)
        package var requestTimeout = Interval.seconds(1)
        /// A relay that failed (its request timed out, it stopped answering, it refused for good)
        /// is not asked again for this long.
        package var relayQuarantine = Interval.seconds(30)
        /// A relay that refused because it does not know the peer as live, or cannot reach it, is
        /// asked again after this long, doubling at each such refusal up to ``relayQuarantine``:
        /// its view of the peer lags (both hosts just started, and the relay still had them as
        /// dead), and 30 s of quarantine left the pair without any path for 30 s (seen in the VM,
        /// where every host is slow to start).
        package var transientRefusalRetry = Interval.seconds(1)
        /// At most this many probes per second over all peers: with more than
        /// `maximumProbesPerSecond × probeInterval` peers in use, each is probed less often
        /// (the least recently probed first), so probe traffic does not grow with the mesh.
        package var maximumProbesPerSecond = 1000.0
        /// Direct probes that must go unanswered (besides the failure timeout) before a path is
        /// declared failed; a clean path sends 5 in its 450 ms.
        package var minimumUnansweredProbes = 3
        /// An unsolicited grant is taken once direct probes have gone unanswered this long (the
        /// direct path is in doubt). Short, so the second end of a failed pair follows the first
        /// within a few hundred milliseconds (failover stays under a second).
        package var hintDoubt = Interval.milliseconds(200)
        /// A held grant hint not confirmed by failing probes within this time is dropped.
        package var hintLifetime = Interval.seconds(2)
        /// Most peers tracked (entries exist only for members; this bounds the table regardless).
        package var maximumPeers = 16_384

        // Choosing a relay over a lossy direct path (``weighRelay(for:path:now:candidates:name:)``).

        /// A direct path that loses at least this share of probe round trips (measured over at
        /// least ``lossSamples`` probes) is weighed against a relay. 30 % random loss each way
        /// loses about half of all round trips: such a path is weighed, and stays (a relayed path
        /// would cross two such links).
        package var lossyDirect = 0.35
        /// Probe outcomes needed before a path's loss is believed (about 5 s of probing on a lossy path).
        package var lossSamples = 20
        /// How often the best relay is probed while its leg is measured for a lossy direct path…
        package var lossProbeInterval = Interval.milliseconds(250)
        /// …and, once measured, how often it is probed again to keep the measure current.
        package var relayLegRefresh = Interval.seconds(2)
        /// What a lost round trip costs the traffic, against a longer round trip: about one
        /// retransmission timeout (TCP's initial one is 1 s, its minimum 200 ms). A path's cost is
        /// its round trip plus its loss times this.
        package var lossPenalty = Interval.seconds(1)
        /// The relay is taken only when its path costs this much less than the direct one…
        package var relayAdvantage = Interval.milliseconds(200)
        /// …and loses at most this share of what the direct one loses: the measures are moving
        /// averages of few samples (±10 % at 50 % loss), and a switch costs a handshake.
        package var relayLossRatio = 0.5
        /// While relayed, a direct retry lost counts in the direct path's loss only if one was
        /// answered within this long before it (a cut path answers nothing: it is not lossy).
        package var lossEvidenceWindow = Interval.seconds(2)
        /// A direct path that answers again only this long after it was declared failed was cut,
        /// not lossy (retried all along; at 75 % round-trip loss, 50 probes in a row go unanswered
        /// about once in 10⁶ tries): the cut's probes judged lost after the heal do not count.
        package var cutSilence = Interval.seconds(5)
        /// A pair relayed because its direct path was lossy tries direct again after this long
        /// (doubling on each relapse): loss on a path changes slowly, a cut heals at once.
        package var lossyRetryBackoff = Interval.seconds(10)
    }

    /// How traffic to a peer goes.
    package enum Route: Equatable {
        case direct
        case relayed(relay: NodeID, endpoint: SocketEndpoint)
        case unreachable
    }

    /// What the agent should do.
    package enum Action: Equatable {
        case probe(NodeID, sequence: UInt32)
        case requestRelay(relay: NodeID, peer: NodeID, id: UInt32)
        case refresh(relay: NodeID, peer: NodeID)
        case release(relay: NodeID, peer: NodeID)
        /// Tell the peer its direct path works again (it switches too).
        case notifyDirect(NodeID)
        /// The peer's route changed: reconfigure its WireGuard endpoint.
        case reroute(NodeID)
        /// A direct path was declared failed with no relay to take over: the WireGuard endpoint
        /// stays as it is (only the peer's status changes).
        case reachabilityChanged(NodeID)
    }

    package struct PeerPath {
        package var route: Route = .direct
        package var reason: String?
        /// When WireGuard last moved bytes with the peer (or the path was put in use).
        package var lastActivity = Timestamp.zero
        /// When WireGuard's receive counter for the peer last grew.
        package var lastReceived = Timestamp.zero
        package var directProbeSentAt = Timestamp.zero
        package var directAnsweredAt = Timestamp.zero
        /// What direct probes measured lately: loss and round trip.
        package var direct = LinkQuality()
        /// Since when ``direct`` measures (a heal after a cut starts it afresh): probes sent before
        /// and judged lost after do not count (the outage's last probes, judged a second later,
        /// made a healed quiet path look 45 % lossy until it failed again, and its failure
        /// timeout 1 s instead of 450 ms: the gateway benchmark, 2026-12-07).
        package var measuredSince = Timestamp.zero
        /// When the direct path was last declared failed (kept after it answers again).
        package var lastFailedAt = Timestamp.zero
        /// The share of direct probes lost lately (moving average; 0 on a clean path).
        package var directLoss: Double { direct.loss }
        /// Relayed because the direct path lost too much (not because it failed): the direct path
        /// is taken back only once it loses less (see ``Settings/lossyDirect``).
        package var relayedForLoss = false
        /// When the first probe of the current run of direct answers was sent (a run ends when
        /// nothing is answered for ``Settings/lossEvidenceWindow``).
        package var directAnsweringSince: Timestamp?
        /// When the direct path was declared failed (nil: it was not, or it answered since).
        package var directFailedAt: Timestamp?
        /// Since when direct probes go unanswered (nil: the last one was answered).
        package var unansweredSince: Timestamp?
        /// Direct probes sent since `unansweredSince` was set.
        package var unansweredProbes = 0
        package var directStreak = 0
        package var relayProbeSentAt = Timestamp.zero
        package var relayAnsweredAt = Timestamp.zero
        /// Since when relay probes go unanswered (nil: the last one was answered).
        package var relayUnansweredSince: Timestamp?
        package var nextDirectRetry = Timestamp.zero
        package var retryBackoff = Interval.zero
        package var healedAt: Timestamp?
        package var relayedSince: Timestamp?
        package var lastRefresh = Timestamp.zero
        package var pending: (relay: NodeID, id: UInt32, sentAt: Timestamp)?
        /// Our request given up for the relay the other end chose (its grant is released on arrival).
        package var abandoned: (relay: NodeID, id: UInt32)?
        /// When our own request was last granted (the leading end keeps its choice for a while).
        package var ownGrantAt: Timestamp?
        /// Relays not to ask for this peer, each until when.
        package var failedRelays: [NodeID: Timestamp] = [:]
        /// Refusals in a row for a transient reason (reset by a grant).
        package var transientRefusals = 0
        /// An unsolicited grant held until the direct path proves to be failing (one per peer: the newest).
        package var hint: (relay: NodeID, endpoint: SocketEndpoint, receivedAt: Timestamp)?
        /// Direct probes answered since the hint arrived: it is refuted after ``Settings/healProbes``.
        package var hintRefutations = 0

        package var lastProbeSentAt: Timestamp { max(directProbeSentAt, relayProbeSentAt) }

        /// Whether this end sent since anything showed the direct path working: WireGuard data
        /// received, or a probe answered. Without that, there is nothing to check.
        package var sendingWithoutAnswer: Bool { lastActivity > max(lastReceived, directAnsweredAt) }

        /// The same for the relayed path (data received through it, or the relay answering).
        package var sendingThroughRelayWithoutAnswer: Bool { lastActivity > max(lastReceived, relayAnsweredAt) }

        /// Whether ``PathManager/tick(now:relayCandidates:name:)`` has anything to do for this
        /// peer: it has traffic, is relayed, or has a relay request or quarantined relays.
        package func needsTick(now: Timestamp, activityWindow: Interval) -> Bool {
            if case .relayed = route { return true }
            return now - lastActivity < activityWindow || pending != nil || !failedRelays.isEmpty || hint != nil
        }
    }

    package var settings = Settings()

    /// Where request ids come from (secure in meshd, seeded in the simulator).
    private var random: RandomSource

    /// A path manager with no peers, using `settings`, drawing request ids from `random`.
    package init(settings: Settings = Settings(), random: RandomSource = .secure()) {
        self.settings = settings
        self.random = random
    }
    package private(set) var peers: [NodeID: PeerPath] = [:]
    /// Grants, refusals and acks refused (``DropReason/forgedRelayGrant``, ``DropReason/unexpectedPathMessage``).
    package private(set) var drops = DropCounters()
    /// Round trips to relays, from their answers to our requests (the first grant often comes
    /// before gossip's probes have measured the relay); at most ``maximumRelayRoundTrips``.
    package private(set) var relayRoundTrips: [NodeID: Interval] = [:]
    package static let maximumRelayRoundTrips = 256
    /// What probes to relays measured of this node's leg to each (loss and round trip); at most
    /// ``maximumRelayRoundTrips`` relays.
    package private(set) var relayLegs: [NodeID: LinkQuality] = [:]
    private var sequence: UInt32 = 0
    /// Probes that may still be sent: ``Settings/maximumProbesPerSecond``, one probe interval's worth of
    /// burst (full at the first tick).
    private(set) var probeTokens: TokenBucket?
    /// Outstanding probes: sequence → (peer the probe is about, node probed, sent at).
    private(set) var outstanding: [UInt32: (peer: NodeID, target: NodeID, sentAt: Timestamp)] = [:]

    /// The route to `peer` (direct when unknown).
    package func route(to peer: NodeID) -> Route { peers[peer]?.route ?? .direct }

    /// Why traffic to `peer` does not go direct, if it does not.
    package func reason(for peer: NodeID) -> String? { peers[peer]?.reason }

    /// When WireGuard data from `peer` last arrived (as the device's counters showed).
    package func lastReceived(from peer: NodeID) -> Timestamp { peers[peer]?.lastReceived ?? .zero }

    /// When the path to `peer` last came back from a relay to direct (nil: never, or long ago).
    package func healedAt(_ peer: NodeID) -> Timestamp? { peers[peer]?.healedAt }

    /// Whether `peer` has had traffic recently.
    package func isActive(_ peer: NodeID, now: Timestamp) -> Bool {
        guard let path = peers[peer] else { return false }
        return now - path.lastActivity < settings.activityWindow
    }

    /// WireGuard moved bytes with `peer`.
    package mutating func noteActivity(_ peer: NodeID, now: Timestamp) {
        guard peers[peer] != nil || peers.count < settings.maximumPeers else { return }
        peers[peer, default: PeerPath()].lastActivity = now
    }

    /// WireGuard received bytes from `peer` (its receive counter grew since the last reading).
    package mutating func noteReceived(_ peer: NodeID, now: Timestamp) {
        noteActivity(peer, now: now)
        peers[peer]?.lastReceived = now
        peers[peer]?.directFailedAt = nil
    }

    /// Whether a path is in use: the caller should then read WireGuard's counters often (every
    /// ``Settings/probeInterval``). Received bytes are what keeps a busy path quiet, and sent
    /// bytes with nothing received are what starts probing it, so a silent path is declared failed
    /// on time and one that still carries data is not.
    package func wantsReceiveCounters(now: Timestamp) -> Bool {
        peers.values.contains { path in now - path.lastActivity < settings.activityWindow }
    }

    /// Forgets a peer that is gone (left, dead, revoked); releases its relay.
    package mutating func forget(_ peer: NodeID) -> [Action] {
        guard let path = peers.removeValue(forKey: peer) else { return [] }
        if case let .relayed(relay, _) = path.route { return [.release(relay: relay, peer: peer)] }
        return []
    }

    /// An answer to probe `sequence` arrived from `sender`. Only the node probed can answer: an
    /// ack from anyone else is counted and leaves the probe outstanding.
    package mutating func probeAnswered(_ sequence: UInt32, from sender: NodeID, now: Timestamp) -> [Action] {
        guard let probe = outstanding[sequence] else { return [] }
        guard probe.target == sender else {
            drops.count(.unexpectedPathMessage)
            return []
        }
        outstanding[sequence] = nil
        guard var path = peers[probe.peer] else { return [] }
        defer { peers[probe.peer] = path }
        guard probe.target == probe.peer else {
            path.relayUnansweredSince = nil
            path.relayAnsweredAt = now
            noteRelayLeg(probe.target, answeredAfter: now - probe.sentAt)
            return []
        }
        if now - path.directAnsweredAt > settings.lossEvidenceWindow { path.directAnsweringSince = probe.sentAt }
        path.directFailedAt = nil
        path.directAnsweredAt = now
        path.direct.answered(after: now - probe.sentAt, weight: settings.lossWeight)
        path.unansweredSince = nil
        path.directStreak += 1
        // The direct path answers: the relay's hint was not needed (or not true). Not on one
        // answer: on a lossy path one gets through now and then, and refuting the hint left this
        // end direct while the other sent through the relay (lab, `RelayBenchmark lossy`).
        if path.hint != nil { path.hintRefutations += 1 }
        if path.hint != nil, path.route == .direct, path.hintRefutations >= settings.healProbes, path.direct.steadyLoss < settings.lossyDirect / 2 {
            path.hint = nil
            drops.count(.forgedRelayGrant)
        }
        switch path.route {
        // Taken back after answers in a row, and only once it loses little (a lossy path answers
        // a few in a row by chance; its measure must come down first).
        case let .relayed(relay, _) where path.directStreak >= settings.healProbes && directWorthTakingBack(path, from: relay):
            path = healed(path, now: now)
            return [.release(relay: relay, peer: probe.peer), .notifyDirect(probe.peer), .reroute(probe.peer)]
        case .unreachable:
            // Healed. WireGuard's endpoint is the same for both routes, so this is no reroute
            // (a reroute replans the whole device: at 1,000 flapping peers, most of a core); the
            // agent re-creates a peer never heard from, so its handshake starts at once instead of
            // at WireGuard's 5 s retry (the first handshake towards a host behind NAT often needs it).
            path = healed(path, now: now)
            return [.reachabilityChanged(probe.peer)]
        default:
            return []
        }
    }

    /// This host's addresses changed: refresh every relayed pair now, so each relay hears from
    /// the new address (and accepts this end's WireGuard traffic from there), and probe every
    /// direct path in use, which carries this node's new record to those peers at once (gossip
    /// rides on every datagram): they point WireGuard at the new address without waiting for a
    /// gossip round. A quiet path sent nothing else to them.
    package mutating func localAddressesChanged(now: Timestamp) -> [Action] {
        var actions: [Action] = []
        for (peer, path) in peers.sorted(by: { $0.key < $1.key }) {
            switch path.route {
            case let .relayed(relay, _):
                actions.append(.refresh(relay: relay, peer: peer))
            case .direct where now - path.lastActivity < settings.activityWindow:
                actions.append(probe(about: peer, target: peer, now: now))
                peers[peer]?.directProbeSentAt = now
            default:
                break
            }
        }
        return actions
    }

    /// `peer`'s authenticated datagrams now come from another address (it roamed, or its NAT
    /// renumbered). Direct probes that went unanswered went to its old address and say nothing of
    /// the path now: the doubt starts again with a probe at once, to where it is now. Without
    /// this, a path was declared failed (and relayed) just as the moved peer's first packets
    /// arrived (simulator, `roaming`: 2.4 s without replies in 9 of 200 seeds).
    /// A relay request already made on that evidence is given up (its grant, if it comes, is
    /// released, not taken); a path already relayed on it tries direct again at once.
    package mutating func peerMoved(_ peer: NodeID, now: Timestamp) -> [Action] {
        guard var path = peers[peer] else { return [] }
        defer { peers[peer] = path }
        switch path.route {
        case .relayed:
            path.nextDirectRetry = min(path.nextDirectRetry, now)
            return []
        case .direct where path.unansweredSince != nil || path.pending != nil:
            if let pending = path.pending {
                path.abandoned = (pending.relay, pending.id)
                path.pending = nil
            }
            path.unansweredSince = now
            path.unansweredProbes = 1
            path.directProbeSentAt = now
            return [probe(about: peer, target: peer, now: now)]
        case .direct, .unreachable:
            return []
        }
    }

    /// This end is relayed but `peer`'s WireGuard data arrives straight from a new address
    /// (``PathCore/sendsStraightFromNewAddress(_:endpoint:relays:)``): it moved and stayed direct.
    /// The direct path to where it is now is taken at once (probes judge it from here like any
    /// direct path); the relay is released and the peer told.
    package mutating func directDataFromMovedPeer(_ peer: NodeID, now: Timestamp) -> [Action] {
        guard let path = peers[peer], case let .relayed(relay, _) = path.route else { return [] }
        peers[peer] = healed(path, now: now)
        return [.release(relay: relay, peer: peer), .notifyDirect(peer), .reroute(peer)]
    }

    /// Whether nothing came from `peer` since its direct path was declared failed: no probe
    /// answered, no WireGuard data, whichever route it has now (a relay may have granted a pair
    /// whose other end is dead). For a gateway: its prefixes should move to one that answers now,
    /// not once a relay answers, and not back to it while it stays silent.
    package func silentSinceFailure(_ peer: NodeID) -> Bool {
        guard let path = peers[peer] else { return false }
        return path.route == .unreachable || path.directFailedAt != nil
    }

    /// Whether any peer is relayed (a reconcile then reads the device first: see
    /// ``PathCore/sendsStraightFromNewAddress(_:endpoint:relays:)``).
    package var anyRelayed: Bool {
        peers.values.contains { if case .relayed = $0.route { true } else { false } }
    }

    /// Peers on the direct path with traffic lately (within ``Settings/activityWindow``).
    package func directPathsInUse(now: Timestamp) -> [NodeID] {
        peers.filter { $0.value.route == .direct && now - $0.value.lastActivity < settings.activityWindow }.keys.sorted()
    }

    /// The peer says the direct path works again: switch back too (both ends move together; an
    /// end that relayed for loss keeps its measure and weighs the relay again).
    package mutating func directRestored(_ peer: NodeID, now: Timestamp) -> [Action] {
        guard var path = peers[peer], case .relayed = path.route else { return [] }
        path = healed(path, now: now)
        peers[peer] = path
        return [.reroute(peer)]
    }

    private func healed(_ old: PeerPath, now: Timestamp) -> PeerPath {
        var path = old
        path.route = .direct
        path.reason = nil
        path.relayedSince = nil
        path.healedAt = now
        // Probes lost while the path was cut say nothing about it now; a lossy path's measure stands.
        if !old.relayedForLoss {
            path.direct = LinkQuality()
            // After a cut (the answers resumed ``Settings/cutSilence`` or more after the failure),
            // the cut's last probes, judged lost only later, must not count either. After a short
            // lapse of a lossy path they do: they keep it from failing again at once.
            if let run = old.directAnsweringSince, run >= old.lastFailedAt + settings.cutSilence {
                path.measuredSince = now
            }
        }
        path.relayedForLoss = false
        path.directStreak = 0
        path.unansweredSince = nil
        path.pending = nil
        path.directFailedAt = nil
        return path
    }

    /// A probe to `relay` was answered after a round trip (nil: lost); the table is bounded (full,
    /// it starts afresh).
    private mutating func noteRelayLeg(_ relay: NodeID, answeredAfter roundTrip: Interval?) {
        if relayLegs[relay] == nil, relayLegs.count >= Self.maximumRelayRoundTrips { relayLegs.removeAll() }
        var leg = relayLegs[relay] ?? LinkQuality()
        if let roundTrip { leg.answered(after: roundTrip, weight: settings.lossWeight) } else { leg.lost(weight: settings.lossWeight) }
        relayLegs[relay] = leg
    }

    private mutating func noteRoundTrip(_ sample: Interval, toRelay relay: NodeID) {
        if relayRoundTrips[relay] == nil, relayRoundTrips.count >= Self.maximumRelayRoundTrips { relayRoundTrips.removeAll() }
        relayRoundTrips[relay] = sample
    }

    /// A grant from `relay` for `peer` at `endpoint` arrived. `senderIsRelay`: the sender's
    /// certificate has the relay role and its record the relay flag; `peerIsLiveMember`: `peer`
    /// is a live member other than this node. A grant with an id must answer our pending request
    /// to that relay for that peer; an unsolicited one (id 0) is taken at once only while the
    /// direct path to `peer` is in doubt (relayed, unreachable, or probes unanswered for
    /// ``Settings/hintDoubt``), else held while the direct path is probed. Refused grants are counted.
    ///
    /// When both ends ask at once, they may ask different relays (each ranks relays by its own
    /// view) and each would take the other's relay from its unsolicited grant: two allocations for
    /// one pair and each end sending through another relay. So the end that `leads` the pair (its
    /// node id sorts first) keeps its own choice — it ignores another relay's unsolicited grant
    /// while its request is pending or was just granted — and the other end follows: it takes
    /// the leader's relay and releases the allocation its own request gets.
    package mutating func grantReceived(
        id: UInt32, peer: NodeID, endpoint: SocketEndpoint, from relay: NodeID, senderIsRelay: Bool, peerIsLiveMember: Bool,
        leads: Bool = false, now: Timestamp
    ) -> [Action] {
        guard senderIsRelay, peerIsLiveMember, peer != relay, endpoint.port != 0, var path = peers[peer] ?? newPath() else {
            drops.count(.forgedRelayGrant)
            return []
        }
        // What we already do (both ends asked the same relay at once; a repeated grant): nothing to change.
        if path.route == .relayed(relay: relay, endpoint: endpoint) { return [] }
        // Our request answered, or the relay's grant for the other end's request while ours was
        // on its way: the relay answered within this long (at most our round trip to it).
        if let pending = path.pending, pending.relay == relay, id == 0 || id == pending.id {
            noteRoundTrip(now - pending.sentAt, toRelay: relay)
        }
        if id != 0 {
            if let abandoned = path.abandoned, abandoned.relay == relay, abandoned.id == id {
                path.abandoned = nil
                peers[peer] = path
                return [.release(relay: relay, peer: peer)]  // we follow the other end's relay
            }
            guard let pending = path.pending, pending.relay == relay, pending.id == id else {
                drops.count(.forgedRelayGrant)
                return []
            }
            return relayGranted(peer, relay: relay, endpoint: endpoint, requested: true, now: now)
        }
        if leads, keepsOwnChoice(path, against: relay, now: now) { return [] }
        if directPathInDoubt(path, now: now) {
            path.hint = nil
            if let pending = path.pending, pending.relay != relay { path.abandoned = (pending.relay, pending.id) }
            peers[peer] = path
            return relayGranted(peer, relay: relay, endpoint: endpoint, requested: false, now: now)
        }
        // Verify before use: probe the direct path now; the hint is taken if probes go unanswered.
        // An unanswered probe from long ago (the peer went idle) is no evidence: start afresh.
        if now - path.directProbeSentAt >= settings.failureTimeout { path.unansweredSince = nil }
        path.hint = (relay, endpoint, now)
        path.hintRefutations = 0
        path.lastActivity = max(path.lastActivity, now)
        peers[peer] = path
        return []
    }

    /// Whether the leading end keeps its own relay against `relay`'s unsolicited grant: its own
    /// request to another relay is pending, or was granted within ``Settings/hintLifetime``.
    private func keepsOwnChoice(_ path: PeerPath, against relay: NodeID, now: Timestamp) -> Bool {
        if let pending = path.pending, pending.relay != relay, now - pending.sentAt < settings.requestTimeout { return true }
        guard case let .relayed(current, _) = path.route, current != relay, let granted = path.ownGrantAt else { return false }
        return now - granted < settings.hintLifetime
    }

    /// Whether the direct path to a peer is failing or in doubt: relayed or unreachable already,
    /// lossy (``isLossy(_:)``), or a current direct probe unanswered for at least ``Settings/hintDoubt``.
    private func directPathInDoubt(_ path: PeerPath, now: Timestamp) -> Bool {
        switch path.route {
        case .relayed, .unreachable:
            return true
        case .direct:
            if isLossy(path) { return true }
            guard let since = path.unansweredSince, now - since >= settings.hintDoubt else { return false }
            return now - path.directProbeSentAt < settings.failureTimeout
        }
    }

    /// A fresh entry, unless the table is full.
    private func newPath() -> PeerPath? {
        peers.count < settings.maximumPeers ? PeerPath() : nil
    }

    /// A relay granted (or, for the other end, announced) forwarding for `peer` at `endpoint`
    /// (the grant was checked: see ``grantReceived(id:peer:endpoint:from:senderIsRelay:peerIsLiveMember:leads:now:)``).
    package mutating func relayGranted(_ peer: NodeID, relay: NodeID, endpoint: SocketEndpoint, requested: Bool, now: Timestamp) -> [Action] {
        var path = peers[peer, default: PeerPath()]
        defer { peers[peer] = path }
        path.pending = nil
        path.hint = nil
        if requested { path.ownGrantAt = now }
        path.transientRefusals = 0
        path.lastRefresh = now
        path.relayUnansweredSince = nil
        path.lastActivity = max(path.lastActivity, now)
        let route = Route.relayed(relay: relay, endpoint: endpoint)
        guard path.route != route else { return [] }
        var actions: [Action] = []
        if case let .relayed(old, _) = path.route, old != relay { actions.append(.release(relay: old, peer: peer)) }
        if case .relayed = path.route {} else {
            // Relayed for loss: this end asked because its direct path was lossy, or the other
            // end's relay is taken while the direct path visibly loses here too.
            path.relayedForLoss = isLossy(path) || (!requested && path.direct.steadyLoss >= settings.lossyDirect / 2)
            // Probes lost to a cut say nothing of the path once it heals; a lossy path's measure stands.
            if !path.relayedForLoss { path.direct = LinkQuality() }
            // A relapse soon after healing doubles the wait before the next direct retry.
            let relapse = path.healedAt.map { now - $0 < settings.relapseWindow } ?? false
            let first = path.relayedForLoss ? settings.lossyRetryBackoff : settings.initialRetryBackoff
            path.retryBackoff = relapse ? min(settings.maximumRetryBackoff, max(first, path.retryBackoff * 2)) : first
            path.relayedSince = now
            if !requested {
                path.reason = path.relayedForLoss ? "the direct path loses \(percent(path.direct.steadyLoss)) of probes; the peer chose a relay"
                    : "the peer could not reach this node directly"
            }
        }
        path.route = route
        path.directStreak = 0
        path.nextDirectRetry = now + path.retryBackoff
        actions.append(.reroute(peer))
        return actions
    }

    /// A relay refused: the next tick tries another one. Believed only when it answers our
    /// pending request to that relay (same id), or, with id 0, comes from the relay we use for
    /// `peer` (it lost the allocation: the path goes back to direct, returned as a reroute);
    /// anything else is counted and ignored.
    package mutating func relayRefused(_ peer: NodeID, id: UInt32, relay: NodeID, reason: RelayMessage.RefusalReason? = nil, now: Timestamp) -> [Action] {
        guard var path = peers[peer] else {
            drops.count(.unexpectedPathMessage)
            return []
        }
        let answersRequest = path.pending.map { $0.relay == relay && $0.id == id } ?? false
        let fromCurrentRelay: Bool
        if id == 0, case let .relayed(current, _) = path.route { fromCurrentRelay = current == relay } else { fromCurrentRelay = false }
        guard answersRequest || fromCurrentRelay else {
            drops.count(.unexpectedPathMessage)
            return []
        }
        path.pending = nil
        if fromCurrentRelay {
            // The relay no longer holds the pair (the other end released it, or the lease ran
            // out): back to direct, where the probes judge the path afresh.
            path = healed(path, now: now)
            path.healedAt = nil
            path.reason = nil
            peers[peer] = path
            return [.reroute(peer)]
        }
        switch reason {
        case .unknownPeer?, .peerUnreachable?:
            let retry = settings.transientRefusalRetry * Double(1 << min(path.transientRefusals, 16))
            path.failedRelays[relay] = now + min(retry, settings.relayQuarantine)
            path.transientRefusals += 1
        case .notARelay?, .full?, nil:
            path.failedRelays[relay] = now + settings.relayQuarantine
        }
        peers[peer] = path
        return []
    }

    /// Runs timers. `relayCandidates(peer, excluded)` returns relays both ends reach, best first.
    package mutating func tick(now: Timestamp, relayCandidates: (NodeID, Set<NodeID>) -> [NodeID], name: (NodeID) -> String) -> [Action] {
        var actions: [Action] = []
        if probeTokens == nil {
            let rate = settings.maximumProbesPerSecond
            probeTokens = TokenBucket(rate: rate, burst: rate * settings.probeInterval.seconds, at: now)
        }
        // Only peers in use, relayed or with relay business have anything to do (at 1,000 idle
        // peers, sorting them all every tick was most of meshd's idle CPU). The least recently
        // probed go first: when tokens run out, the others go first next time.
        var busy: [(peer: NodeID, probedAt: Timestamp)] = []
        for (peer, path) in peers where path.needsTick(now: now, activityWindow: settings.activityWindow) {
            busy.append((peer, path.lastProbeSentAt))
        }
        busy.sort { $0.probedAt != $1.probedAt ? $0.probedAt < $1.probedAt : $0.peer < $1.peer }
        for (peer, _) in busy {
            guard var path = peers[peer] else { continue }
            let active = now - path.lastActivity < settings.activityWindow
            if let pending = path.pending, now - pending.sentAt >= settings.requestTimeout {
                path.failedRelays[pending.relay] = now + settings.relayQuarantine
                path.pending = nil
            }
            if !path.failedRelays.isEmpty {
                path.failedRelays = path.failedRelays.filter { now < $0.value }
            }
            if let hint = path.hint {
                if now - hint.receivedAt >= settings.hintLifetime {
                    path.hint = nil
                } else if directPathInDoubt(path, now: now) {
                    // Verified: our own probes fail too. Take the relay the other end uses.
                    path.hint = nil
                    peers[peer] = path
                    actions += relayGranted(peer, relay: hint.relay, endpoint: hint.endpoint, requested: false, now: now)
                    continue
                }
            }
            switch path.route {
            case .direct, .unreachable:
                guard active else { break }
                if path.route == .direct, isLossy(path) {
                    actions += weighRelay(for: peer, path: &path, now: now, candidates: relayCandidates, name: name)
                }
                // Quiet while data comes back (or probes were answered since this end last sent),
                // unless a relay's hint waits to be verified: data may be coming back through
                // that relay already (WireGuard follows the other end's source), and without a
                // probe the hint was never checked and this end never learned of the relay.
                if path.route == .direct, path.unansweredSince == nil, !path.sendingWithoutAnswer, path.hint == nil { break }
                if now - path.directProbeSentAt >= settings.probeInterval, takeProbeToken(now: now) {
                    actions.append(probe(about: peer, target: peer, now: now))
                    path.directProbeSentAt = now
                    // The doubt dates from the read that saw sending without receiving (counters
                    // are read every probe interval), not from this first probe.
                    if path.unansweredSince == nil {
                        path.unansweredSince = max(path.lastReceived, path.directAnsweredAt, now - settings.probeInterval)
                        path.unansweredProbes = 0
                    }
                    path.unansweredProbes += 1
                }
                let timeout = failureTimeout(loss: path.directLoss)
                // A failure needs probes to have gone unanswered, not only time: when the probe
                // budget is spread over many peers in use, one slow answer failed a path.
                guard let since = path.unansweredSince, now - since >= timeout, path.unansweredProbes >= settings.minimumUnansweredProbes
                else { break }
                // Data still arriving over WireGuard means the path works (the agent is what is silent).
                if path.route == .direct, now - path.lastReceived < timeout { break }
                if path.route == .direct {
                    if path.directFailedAt == nil { path.lastFailedAt = now }
                    path.directFailedAt = path.directFailedAt ?? now
                    let loss = path.directLoss >= 0.01 ? " (\(percent(path.directLoss)) of probes lost lately)" : ""
                    path.reason = "direct probes unanswered for \(Int((now - since).seconds * 1000)) ms\(loss), no WireGuard data received"
                }
                if let request = requestRelay(for: peer, path: &path, now: now, candidates: relayCandidates) {
                    actions.append(request)
                } else if path.pending == nil, path.route == .direct {
                    path.route = .unreachable
                    path.reason = (path.reason ?? "the direct path failed") + "; no relay reachable from both ends"
                    actions.append(.reachabilityChanged(peer))
                }
            case let .relayed(relay, _):
                let relayInDoubt = path.relayUnansweredSince != nil || path.sendingThroughRelayWithoutAnswer
                if active, relayInDoubt, now - path.relayProbeSentAt >= settings.probeInterval, takeProbeToken(now: now) {
                    actions.append(probe(about: peer, target: relay, now: now))
                    path.relayProbeSentAt = now
                    if path.relayUnansweredSince == nil { path.relayUnansweredSince = now }
                }
                if active, let since = path.relayUnansweredSince, now - since >= settings.failureTimeout, path.pending == nil {
                    path.relayUnansweredSince = nil
                    path.failedRelays[relay] = now + settings.relayQuarantine
                    path.reason = "relay \(name(relay)) stopped answering"
                    if let request = requestRelay(for: peer, path: &path, now: now, candidates: relayCandidates) {
                        actions.append(request)
                    }
                }
                // Retry the direct path after the backoff; a round of unanswered probes backs off further.
                if now >= path.nextDirectRetry, now - path.directProbeSentAt >= settings.healProbeInterval, takeProbeToken(now: now) {
                    if path.directProbeSentAt > path.directAnsweredAt + settings.healProbeInterval { path.directStreak = 0 }
                    actions.append(probe(about: peer, target: peer, now: now))
                    path.directProbeSentAt = now
                    if now >= path.nextDirectRetry + settings.healProbeInterval * Double(settings.healProbes * 3), path.directStreak == 0 {
                        path.retryBackoff = min(settings.maximumRetryBackoff, path.retryBackoff * 2)
                        path.nextDirectRetry = now + path.retryBackoff
                    }
                }
                if active, now - path.lastRefresh >= settings.refreshInterval {
                    actions.append(.refresh(relay: relay, peer: peer))
                    path.lastRefresh = now
                }
                if !active, let since = path.relayedSince, now - since >= settings.activityWindow {
                    // Idle: give the allocation back; direct is tried again when traffic resumes.
                    // The peer is told, so both ends move together (one end direct and the other
                    // on the relay lost what the direct end sent into the other's NAT).
                    path = healed(path, now: now)
                    path.healedAt = nil
                    actions += [.release(relay: relay, peer: peer), .notifyDirect(peer), .reroute(peer)]
                }
            }
            peers[peer] = path
        }
        judgeUnansweredProbes(now: now)
        return actions
    }

    /// How long direct probes must go unanswered before a path with `loss` is declared failed.
    package func failureTimeout(loss: Double) -> Interval {
        guard loss > 0.05 else { return settings.failureTimeout }
        let probes = (log(settings.falseFailureProbability) / log(min(loss, 0.95))).rounded(.up)
        let timeout = Interval.seconds(probes * settings.probeInterval.seconds)
        return min(settings.maximumFailureTimeout, max(settings.failureTimeout, timeout))
    }

    /// Probes unanswered for ``Settings/probeLossJudgedAfter`` count as lost (of the direct path,
    /// or of this node's leg to a relay).
    private mutating func judgeUnansweredProbes(now: Timestamp) {
        guard !outstanding.isEmpty else { return }
        var lost: [(peer: NodeID, target: NodeID, sentAt: Timestamp)] = []
        outstanding = outstanding.filter { _, probe in
            guard now - probe.sentAt >= settings.probeLossJudgedAfter else { return true }
            lost.append((probe.peer, probe.target, probe.sentAt))
            return false
        }
        for (peer, target, sentAt) in lost {
            if target == peer {
                // Off the direct path, a probe lost counts only while others are answered (sent
                // during a run of answers): a cut path answers nothing, and its lost retries would
                // keep it from healing.
                guard let path = peers[peer] else { continue }
                let duringAnswers = path.directAnsweringSince.map { sentAt >= $0 } ?? false
                guard path.route == .direct || (duringAnswers && path.directAnsweredAt + settings.lossEvidenceWindow >= sentAt) else { continue }
                guard sentAt >= path.measuredSince else { continue }
                peers[peer]?.direct.lost(weight: settings.lossWeight)
            } else {
                noteRelayLeg(target, answeredAfter: nil)
            }
        }
    }

    mutating func takeProbeToken(now: Timestamp) -> Bool {
        probeTokens?.take(1, at: now) ?? false
    }

    mutating func probe(about peer: NodeID, target: NodeID, now: Timestamp) -> Action {
        sequence &+= 1
        outstanding[sequence] = (peer, target, now)
        return .probe(target, sequence: sequence)
    }

    mutating func requestRelay(
        for peer: NodeID, path: inout PeerPath, now: Timestamp, candidates: (NodeID, Set<NodeID>) -> [NodeID]
    ) -> Action? {
        guard path.pending == nil else { return nil }
        var excluded = Set(path.failedRelays.keys)
        if case let .relayed(current, _) = path.route, path.failedRelays[current] == nil { excluded.insert(current) }
        guard let relay = candidates(peer, excluded).first else { return nil }
        // Unpredictable, and never 0 (the id of unsolicited grants): a grant must echo it.
        let id = UInt32.random(in: 1...UInt32.max, using: &random)
        path.pending = (relay, id, now)
        return .requestRelay(relay: relay, peer: peer, id: id)
    }
}

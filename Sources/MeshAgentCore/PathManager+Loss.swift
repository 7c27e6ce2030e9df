import MeshCore

/// Choosing a relay over a lossy direct path, as a measured decision: a direct path that still
/// carries data is never declared failed (``PathManager/tick(now:relayCandidates:name:)``), but one
/// that loses much of it is weighed against the best relay, each by what probes measured of it.
extension PathManager {
    /// Whether the direct path to a peer loses at least ``Settings/lossyDirect`` of probe round
    /// trips, measured over at least ``Settings/lossSamples`` probes.
    func isLossy(_ path: PeerPath) -> Bool {
        path.direct.samples >= settings.lossSamples && path.direct.steadyLoss >= settings.lossyDirect
    }

    /// What a path costs the traffic: its round trip plus its loss times ``Settings/lossPenalty``.
    func cost(roundTrip: Interval, loss: Double) -> Interval {
        roundTrip + settings.lossPenalty * loss
    }

    /// The direct path to `peer` is lossy: measures this node's leg to the best relay both ends
    /// reach (probing it every ``Settings/lossProbeInterval`` until ``Settings/lossSamples``
    /// outcomes, then every ``Settings/relayLegRefresh``), and asks for that relay once the relayed
    /// path costs ``Settings/relayAdvantage`` less than the direct one and loses at most
    /// ``Settings/relayLossRatio`` of what it loses. The relayed path is this
    /// leg and the peer's (taken to be like ours: see ``LinkQuality/steadyLossOverTwoLegs``): uniform
    /// loss on every link keeps the pair direct, loss on the direct link alone moves it.
    mutating func weighRelay(
        for peer: NodeID, path: inout PeerPath, now: Timestamp, candidates: (NodeID, Set<NodeID>) -> [NodeID], name: (NodeID) -> String
    ) -> [Action] {
        guard path.pending == nil, let relay = candidates(peer, Set(path.failedRelays.keys)).first else { return [] }
        var actions: [Action] = []
        let leg = relayLegs[relay] ?? LinkQuality()
        let every = leg.samples < settings.lossSamples ? settings.lossProbeInterval : settings.relayLegRefresh
        if now - path.relayProbeSentAt >= every, takeProbeToken(now: now) {
            actions.append(probe(about: peer, target: relay, now: now))
            path.relayProbeSentAt = now
        }
        guard leg.samples >= settings.lossSamples, let legRoundTrip = leg.roundTrip else { return actions }
        let directRoundTrip = path.direct.roundTrip ?? legRoundTrip
        let direct = cost(roundTrip: directRoundTrip, loss: path.direct.steadyLoss)
        let relayed = cost(roundTrip: legRoundTrip * 2, loss: leg.steadyLossOverTwoLegs)
        guard relayed + settings.relayAdvantage <= direct, leg.steadyLossOverTwoLegs <= path.direct.steadyLoss * settings.relayLossRatio else { return actions }
        path.reason = "the direct path loses \(percent(path.direct.steadyLoss)) of probes (round trip \(milliseconds(directRoundTrip))); "
            + "through \(name(relay)) about \(percent(leg.steadyLossOverTwoLegs)) (round trip \(milliseconds(legRoundTrip * 2)))"
        if let request = requestRelay(for: peer, path: &path, now: now, candidates: candidates) { actions.append(request) }
        return actions
    }

    /// Whether a relayed pair may go back to its direct path (besides answers in a row): the
    /// direct path loses little, or, measured against the relay's leg, costs no more than the
    /// relayed path (under loss on every link, two relayed legs lose more than one direct link).
    func directWorthTakingBack(_ path: PeerPath, from relay: NodeID) -> Bool {
        // Both measures: the quick one falls after a few answers, so a lossy path that answered
        // a few in a row by chance (with few outcomes for the steady one yet) is not taken back.
        if path.direct.steadyLoss < settings.lossyDirect / 2, path.direct.loss < settings.lossyDirect / 2 { return true }
        guard let leg = relayLegs[relay], leg.samples >= settings.lossSamples, let legRoundTrip = leg.roundTrip else { return false }
        let direct = cost(roundTrip: path.direct.roundTrip ?? legRoundTrip, loss: path.direct.steadyLoss)
        return direct <= cost(roundTrip: legRoundTrip * 2, loss: leg.steadyLossOverTwoLegs)
    }

    /// When the lossy direct path to a peer may next have its relay leg probed: while measuring
    /// and when refreshing (the relay is chosen at the tick, so both; none when it is not lossy).
    func relayLegProbeTimes(_ path: PeerPath) -> [Timestamp] {
        guard path.route == .direct, path.pending == nil, isLossy(path) else { return [] }
        return [path.relayProbeSentAt + settings.lossProbeInterval, path.relayProbeSentAt + settings.relayLegRefresh]
    }
}

/// `share` (0…1) as a whole percentage, for reasons.
func percent(_ share: Double) -> String { "\(Int((share * 100).rounded())) %" }

/// `interval` in whole milliseconds, for reasons.
func milliseconds(_ interval: Interval) -> String { "\(Int((interval.seconds * 1000).rounded())) ms" }

import MeshCore
import MeshCrypto

/// One node's path decisions, without I/O: which path each peer takes (``PathManager``), which end
/// starts a first handshake and when (``FirstHandshakes``), the relay client (requests, grants,
/// refusals, "direct restored"), and which relays to ask. meshd and the simulator feed it the same
/// events — a tick, a path or relay message from an authenticated member, local addresses changed,
/// a member gone — with the mesh as the protocol core sees it and the device's sessions, and carry
/// out the ``Effect``s it returns.
package struct PathCore {
    /// Direct or relayed, per peer.
    package var paths: PathManager
    /// Peers without a first handshake: which end initiates, and when they are re-created.
    package var firstHandshakes: FirstHandshakes
    /// Relay endpoints used for peers (never kept as a "working direct path").
    package var relayEndpoints = RecentRelayEndpoints()
    /// The device plan's per-member memory (``planDevice(node:host:device:now:)``).
    var deviceMemory = DevicePlanMemory()
    /// Which gateway carries each accepted routed prefix (chosen at each plan).
    package var routes = RouteChoice()
    /// Which member carries each prefix a routing daemon routes through the mesh (chosen at each plan).
    package var daemonRoutes = DaemonRouteChoice()

    /// What the shell does for the core.
    package enum Effect: Equatable {
        /// Send a path or relay message to a member over the secure channel.
        case send(RelayMessage, to: NodeID)
        /// Remove these WireGuard peers, never heard from, so the next plan adds them afresh and
        /// WireGuard initiates at once (instead of after its 5 s retry).
        case recreate([X25519PublicKey])
        /// Plan the device again now (a peer's endpoint moved).
        case reconcile
        /// Once the plan that moves these peers is applied, put one packet into each one's tunnel
        /// (``punchTargets(_:node:session:)``).
        case punchAfterReconcile([NodeID])
        /// Count a refusal.
        case count(DropReason)
        /// Something an operator wants in the log.
        case log(Log)
    }

    /// Log lines of the path decisions (the shell words them, with member names).
    package enum Log: Equatable {
        case askingForRelay(peer: NodeID, relay: NodeID, reason: String)
        case route(peer: NodeID, PathManager.Route, reason: String?)
        case relayRefused(relay: NodeID, peer: NodeID, reason: RelayMessage.RefusalReason)
    }

    /// Whether the device has a session with a peer (by WireGuard key): nil when the peer is not on
    /// the device, false when it has had no handshake yet.
    package typealias Sessions = (X25519PublicKey) -> Bool?

    /// A core for the node whose WireGuard key is `ownKey`, drawing relay request ids from `random`.
    package init(ownKey: X25519PublicKey, settings: PathManager.Settings = PathManager.Settings(), random: RandomSource = .secure()) {
        paths = PathManager(settings: settings, random: random)
        firstHandshakes = FirstHandshakes(ownKey: ownKey)
    }

    // MARK: Events

    /// The path timers: probes, failures, relay requests and refreshes, direct retries.
    package mutating func tick(node: MeshNode, sessions: Sessions, now: Timestamp) -> [Effect] {
        let actions = paths.tick(now: now, relayCandidates: Self.relayCandidates(node), name: { node.members[$0]?.name ?? $0.hex })
        return effects(of: actions, node: node, sessions: sessions, now: now)
    }

    /// A path or relay message for the relay client from the authenticated member `sender`
    /// (requests, refreshes and releases are the relay's: nothing for the client).
    package mutating func received(_ message: RelayMessage, from sender: NodeID, node: MeshNode, sessions: Sessions, now: Timestamp) -> [Effect] {
        switch message {
        case let .pathProbe(sequence):
            return [.send(.pathAck(sequence: sequence), to: sender)]
        case let .pathAck(sequence):
            return effects(of: paths.probeAnswered(sequence, from: sender, now: now), node: node, sessions: sessions, now: now)
        case let .grant(id, peer, port, _):
            // The relay port is on the address the relay was authenticated from, never elsewhere.
            guard let address = node.lastEndpoint(of: sender)?.address else { return [.count(.forgedRelayGrant)] }
            let endpoint = SocketEndpoint(address: address, port: port)
            let peerIsLiveMember = peer != node.id && node.members[peer]?.status.isLive == true
            let actions = paths.grantReceived(
                id: id, peer: peer, endpoint: endpoint, from: sender, senderIsRelay: Self.isOfferingRelay(sender, node: node),
                peerIsLiveMember: peerIsLiveMember, leads: node.id < peer, now: now)
            return effects(of: actions, node: node, sessions: sessions, now: now)
        case let .refuse(id, peer, reason):
            let actions = paths.relayRefused(peer, id: id, relay: sender, reason: reason, now: now)
            return [.log(.relayRefused(relay: sender, peer: peer, reason: reason))] + effects(of: actions, node: node, sessions: sessions, now: now)
        case .directRestored:
            return effects(of: paths.directRestored(sender, now: now), node: node, sessions: sessions, now: now)
        case .request, .refresh, .release:
            return []
        }
    }

    /// This host moved: its local addresses changed, or peers see it at another outside address
    /// (its NAT changed). Paths in use are probed again at once, relays refreshed, and each direct
    /// peer in use gets one packet through its tunnel after a plan: its WireGuard roams to the new
    /// source at once, and this end's new NAT opens towards it. Without the packet, a peer that
    /// only sent to this node (a one-way stream) reached nothing until this end's next keepalive
    /// (simulator, `roaming` with one-way traffic: 25 s without a reply).
    package mutating func localAddressesChanged(node: MeshNode, sessions: Sessions, now: Timestamp) -> [Effect] {
        var effects = effects(of: paths.localAddressesChanged(now: now), node: node, sessions: sessions, now: now)
        let inUse = paths.directPathsInUse(now: now)
        if !inUse.isEmpty { effects += [.reconcile, .punchAfterReconcile(inUse)] }
        return effects
    }

    /// `peer`'s authenticated datagrams now come from another address (``PathManager/peerMoved(_:now:)``).
    package mutating func memberMoved(_ peer: NodeID, node: MeshNode, sessions: Sessions, now: Timestamp) -> [Effect] {
        effects(of: paths.peerMoved(peer, now: now), node: node, sessions: sessions, now: now)
    }

    /// `peer` is no longer a peer (left, revoked, forgotten): its relay pair is released and the
    /// device plan forgets it.
    package mutating func forget(_ peer: NodeID, node: MeshNode, sessions: Sessions, now: Timestamp) -> [Effect] {
        deviceMemory.forget(peer)
        return effects(of: paths.forget(peer), node: node, sessions: sessions, now: now)
    }

    // MARK: Decisions

    /// The effects of the path manager's actions. Reroutes are applied by one plan after the
    /// batch: a plan reads and writes the whole device, so one per peer made a batch of 1,000
    /// reroutes take seconds.
    package mutating func effects(of actions: [PathManager.Action], node: MeshNode, sessions: Sessions, now: Timestamp) -> [Effect] {
        var effects: [Effect] = []
        var rerouted: [NodeID] = [], reachable: [NodeID] = []
        var gatewayReachability = false
        for action in actions {
            switch action {
            case let .probe(target, sequence):
                effects.append(.send(.pathProbe(sequence: sequence), to: target))
            case let .requestRelay(relay, peer, id):
                effects.append(.log(.askingForRelay(peer: peer, relay: relay, reason: paths.reason(for: peer) ?? "")))
                effects.append(.send(.request(id: id, peer: peer), to: relay))
                if isGatewayCandidate(peer) { gatewayReachability = true }
            case let .refresh(relay, peer):
                effects.append(.send(.refresh(peer: peer), to: relay))
            case let .release(relay, peer):
                effects.append(.send(.release(peer: peer), to: relay))
            case let .notifyDirect(peer):
                effects.append(.send(.directRestored, to: peer))
            case let .reroute(peer):
                effects.append(routeChanged(peer))
                rerouted.append(peer)
            case let .reachabilityChanged(peer):
                effects.append(routeChanged(peer))
                if paths.route(to: peer) == .direct { reachable.append(peer) }
                // A gateway that lost (or regained) its path: its prefixes move in the next plan.
                if isGatewayCandidate(peer) { gatewayReachability = true }
            }
        }
        if !rerouted.isEmpty {
            let recreate = restartFirstHandshakes(rerouted + reachable, node: node, sessions: sessions, now: now)
            if !recreate.isEmpty { effects.append(.recreate(recreate)) }
            effects.append(.punchAfterReconcile(rerouted))
            effects.append(.reconcile)
        } else {
            let recreate = restartFirstHandshakes(reachable, node: node, sessions: sessions, now: now)
            if !recreate.isEmpty { effects += [.recreate(recreate), .reconcile] }  // the plan adds them back
            else if gatewayReachability { effects.append(.reconcile) }
        }
        return effects
    }

    /// Whether `peer` serves a prefix this node takes routes for (its path matters to the routes).
    private func isGatewayCandidate(_ peer: NodeID) -> Bool {
        routes.prefixes.values.contains { $0.gateways.contains { $0.member == peer } }
    }

    private mutating func routeChanged(_ peer: NodeID) -> Effect {
        let route = paths.route(to: peer)
        if case let .relayed(_, endpoint) = route { relayEndpoints.insert(endpoint) }
        return .log(.route(peer: peer, route, reason: paths.reason(for: peer)))
    }

    /// Peers without a handshake start their first handshake afresh on their new paths: the
    /// initiating end re-creates them (WireGuard initiates at once instead of after its 5 s
    /// retry), the other end waits its turn (see ``FirstHandshakes``). Returns the peers to re-create.
    private mutating func restartFirstHandshakes(_ peers: [NodeID], node: MeshNode, sessions: Sessions, now: Timestamp) -> [X25519PublicKey] {
        var recreate: [X25519PublicKey] = []
        for peer in peers {
            guard let key = node.members[peer]?.certificate.wireGuardKey, sessions(key) == false else { continue }
            guard firstHandshakes.start(key, now: now, roundTrip: pathRoundTrip(to: peer, node: node)) else { continue }
            if firstHandshakes.isInitiator(towards: key) { recreate.append(key) }
        }
        return recreate
    }

    /// The round trip of the path to `peer` as far as this node knows it: through a relay, its own
    /// to the relay (gossip's probes, or the relay's answer to our request) plus the one the peer
    /// announces (or its own again); direct, the probes' (gossip takes the same path as
    /// WireGuard). Nil before anything was measured.
    package func pathRoundTrip(to peer: NodeID, node: MeshNode) -> Interval? {
        guard case let .relayed(relay, _) = paths.route(to: peer) else { return node.roundTrip(to: peer) }
        guard let mine = node.roundTrip(to: relay) ?? paths.relayRoundTrips[relay] else { return nil }
        let announced = node.members[peer]?.record.relays.first { $0.relay == relay }
        return mine + (announced.map { .milliseconds(Double($0.rttMilliseconds)) } ?? mine)
    }

    /// Of `peers` back on a direct path, those with a session (made through the relay), whose
    /// tunnel gets one packet now: WireGuard sends it to the peer's direct endpoint, which opens
    /// this end's NAT towards the peer's. Both ends heal together (the first tells the other), so
    /// their packets cross and punch through; without it a session waits for a keepalive (up to
    /// 25 s) while the first packets die at the other end's NAT, and the path failed back to the relay.
    package func punchTargets(_ peers: [NodeID], node: MeshNode, sessions: Sessions) -> [X25519PublicKey] {
        peers.compactMap { peer in
            guard paths.route(to: peer) == .direct, let key = node.members[peer]?.certificate.wireGuardKey, sessions(key) == true else { return nil }
            return key
        }
    }

    /// Whether WireGuard's endpoint for `peer` (as the device was last read) contradicts its path:
    /// the peer is on the direct path but WireGuard sends to a relay port. A packet still in flight
    /// through the relay arrived after both ends switched back, and WireGuard roamed to its source;
    /// the relay has released the pair, so everything sent there is lost until a plan sets the
    /// direct endpoint again (seen in the simulator as 5 s outages after a heal, until the periodic plan).
    /// Only within ``AgentTiming/roamedBackWindow`` of the heal: an end whose peer stays relayed
    /// (it has not healed yet) keeps being roamed to the relay by every packet, which then works,
    /// and re-planning at every device read would only flap the endpoint.
    package func endpointContradictsPath(_ peer: NodeID, deviceEndpoint: SocketEndpoint?, now: Timestamp) -> Bool {
        guard let deviceEndpoint, paths.route(to: peer) == .direct, let healed = paths.healedAt(peer),
              now - healed < AgentTiming.roamedBackWindow
        else { return false }
        return relayEndpoints.contains(deviceEndpoint)
    }

    /// Whether `member` may act as a relay: its certificate has the relay role and its signed
    /// record the relay flag (a grant from anyone else is never believed).
    package static func isOfferingRelay(_ member: NodeID, node: MeshNode) -> Bool {
        guard let record = node.members[member] else { return false }
        return record.status.isLive && record.certificate.roles.contains(.relay) && record.record.flags.contains(.relay)
    }

    /// Whether to announce the relays this node reaches now (`current`) in place of those it
    /// announced: at once when the set changed (a relay newly reached, or lost), as peers choose
    /// relays by it; when only round trips changed, at most every ``AgentTiming/relayAnnouncementInterval``.
    package static func shouldAnnounceRelays(_ current: [RelayReachability], announced: [RelayReachability], sinceLastAnnouncement: Interval) -> Bool {
        guard current != announced else { return false }
        if Set(current.map(\.relay)) != Set(announced.map(\.relay)) { return true }
        return sinceLastAnnouncement >= AgentTiming.relayAnnouncementInterval
    }

    /// Relays that both this node and `peer` reach directly, best (lowest combined round trip)
    /// first; relays the peer does not announce (yet) come last, after every relay it does.
    package static func relayCandidates(_ node: MeshNode) -> (NodeID, Set<NodeID>) -> [NodeID] {
        // Listed on first use: most ticks ask for no relay, and listing 1,000 members each time costs.
        var listed: [Member]?
        return { peer, excluded in
            let relays = listed ?? node.members.all.filter {
                $0.status == .alive && $0.record.flags.contains(.relay) && $0.certificate.roles.contains(.relay)
            }
            listed = relays
            let peerRelays = node.members[peer]?.record.relays ?? []
            let scored: [(NodeID, Double)] = relays.compactMap { relay in
                guard relay.id != peer, !excluded.contains(relay.id) else { return nil }
                let mine = node.roundTrip(to: relay.id)?.seconds ?? 0.5
                let theirs: Double
                if let reach = peerRelays.first(where: { $0.relay == relay.id }) {
                    theirs = Double(reach.rttMilliseconds) / 1000
                } else if peerRelays.isEmpty {
                    theirs = 0.5  // the peer has not announced its relays yet: try anyway
                } else {
                    // Not announced by the peer: it may not reach it, or not have measured it when
                    // it last announced. Tried after every relay it announces.
                    theirs = 1000
                }
                return (relay.id, mine + theirs)
            }
            return scored.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0)
        }
    }

    /// The relays this node reaches, for its record (quantized so small RTT changes do not
    /// publish new versions).
    package static func reachableRelays(_ node: MeshNode) -> [RelayReachability] {
        node.members.all
            .filter { $0.status == .alive && $0.record.flags.contains(.relay) && $0.certificate.roles.contains(.relay) }
            .compactMap { relay -> RelayReachability? in
                guard let rtt = node.roundTrip(to: relay.id) else { return nil }
                let milliseconds = min(65000, (rtt.seconds * 1000 / 20).rounded(.up) * 20)
                return RelayReachability(relay: relay.id, rttMilliseconds: UInt16(milliseconds))
            }
            .sorted { ($0.rttMilliseconds, $0.relay) < ($1.rttMilliseconds, $1.relay) }
            .prefix(NodeRecord.maximumRelays)
            .map { $0 }
    }
}

import MeshAgentCore
import MeshCore
import MeshCrypto

extension Agent {
    /// Starts the relay service when this node's certificate has the relay role and the
    /// configuration allows it.
    func startRelayIfAllowed(_ certificate: NodeCertificate) {
        guard relay == nil, certificate.roles.contains(.relay), configuration.relay.enabled else { return }
        var limits = RelayService.Limits()
        limits.maximumAllocations = configuration.relay.maximumAllocations
        limits.bytesPerSecond = UInt64(configuration.relay.bandwidthMegabits) * 125_000
        limits.ports = configuration.relay.ports
        relay = RelayService(group: group, limits: limits, device: configuration.underlay.bindDevice)
        if socketMark != 0 { relay?.setMark(socketMark) }
        logger.info("relaying for other members", metadata: ["ports": "\(limits.ports)", "max": "\(limits.maximumAllocations)"])
    }

    /// Direct or relayed, per peer (``PathCore/paths``).
    var paths: PathManager {
        get { pathCore.paths }
        _modify { yield &pathCore.paths }
    }

    /// WireGuard peers that have not completed a first handshake yet: which end initiates, and
    /// when they are re-created (see ``hurryFirstHandshakes(now:)``).
    var firstHandshakes: FirstHandshakes {
        get { pathCore.firstHandshakes }
        _modify { yield &pathCore.firstHandshakes }
    }

    /// Relay endpoints used for peers (never kept as a "working direct path").
    var relayEndpoints: RecentRelayEndpoints { pathCore.relayEndpoints }

    /// Whether the device has a session with a peer, as last read (see ``PathCore/Sessions``).
    var deviceSessions: PathCore.Sessions {
        let peers = lastDeviceState?.peers ?? [:]
        return { key in peers[key].map { $0.lastHandshakeTime != nil } }
    }

    /// Carries out the path core's effects: messages are sent, re-created peers and punches wait
    /// for the device loop, whose next turn comes at once when a plan is asked for.
    func apply(_ effects: [PathCore.Effect], now: Timestamp) {
        var reconcile = false
        for effect in effects {
            switch effect {
            case let .send(message, target):
                send(message, to: target, now: now)
            case let .recreate(keys):
                pendingRecreations.append(contentsOf: keys)
            case let .punchAfterReconcile(peers):
                pendingPunches.append(contentsOf: peers)
            case .reconcile:
                reconcile = true
            case let .count(reason):
                agentDrops.count(reason)
            case let .log(line):
                log(line)
            }
        }
        if reconcile { reconcileNow(now) }
    }

    private func log(_ line: PathCore.Log) {
        switch line {
        case let .askingForRelay(peer, _, _): noteTrouble(peer, now: clock.now)
        case let .route(peer, route, _): recordPathChange(peer, route, now: clock.now)
        case .relayRefused: break
        }
        switch line {
        case let .askingForRelay(peer, relay, reason):
            logger.notice("direct path failed; asking for a relay", metadata: [
                "peer": "\(memberName(peer))", "relay": "\(memberName(relay))", "reason": "\(reason)",
            ])
        case let .route(peer, .direct, _):
            logger.notice("path is direct", metadata: ["peer": "\(memberName(peer))"])
        case let .route(peer, .relayed(relay, endpoint), _):
            logger.notice("path is relayed", metadata: ["peer": "\(memberName(peer))", "relay": "\(memberName(relay))", "endpoint": "\(endpoint)"])
        case let .route(peer, .unreachable, reason):
            logger.warning("peer unreachable", metadata: ["peer": "\(memberName(peer))", "reason": "\(reason ?? "")"])
        case let .relayRefused(relay, peer, reason):
            logger.warning("relay refused", metadata: ["relay": "\(memberName(relay))", "peer": "\(memberName(peer))", "reason": "\(reason)"])
        }
    }

    /// Puts one packet into the tunnel of each of `peers` back on a direct path (see ``PathCore/punchTargets(_:node:sessions:)``).
    func punchHealedPaths(_ peers: [NodeID]) {
        guard let node else { return }
        nudge(pathCore.punchTargets(peers, node: node, sessions: deviceSessions))
    }

    func send(_ message: RelayMessage, to target: NodeID, now: Timestamp) {
        node?.sendExtension(type: message.code.rawValue, body: message.body, to: target, now: now)
    }

    /// The relays this node reaches, for its record.
    func reachableRelays() -> [RelayReachability] {
        guard let node else { return [] }
        return PathCore.reachableRelays(node)
    }

    /// Handles a path or relay message from an authenticated member: the relay's own (requests,
    /// refreshes, releases) here, the rest in the path core.
    func handleRelayMessage(_ message: RelayMessage, from sender: NodeID) {
        let now = clock.now
        guard let node else { return }
        // A relayed member that moved sends from its new address at once (its path probes to this
        // relay): allow it there, or its relayed traffic was dropped until its next lease refresh
        // (up to 10 s; seen as 15 s outages when the roaming benchmark moved a relayed host).
        if let relay, let address = node.lastEndpoint(of: sender)?.address { relay.allow(sender, from: address) }
        switch message {
        case let .request(id, peer):
            ownedWork.start { await self.serveRelayRequest(id: id, peer: peer, from: sender) }
        case let .refresh(peer):
            guard let relay else { return }
            let pair = RelayService.Pair(sender, peer)
            guard let allocation = relay.renew(pair, now: now) else {
                send(.refuse(id: 0, peer: peer, reason: .unknownPeer), to: sender, now: now)
                break
            }
            // The other end may have missed its grant: it has not switched while this end still
            // sends through the relay.
            let grant = RelayMessage.grant(
                id: 0, peer: sender, port: allocation.ports[peer] ?? 0, lease: UInt16(min(65535, relay.limits.lease.seconds)))
            ownedWork.start { _ = await self.regrantIfNotLatched(grant, to: peer, in: pair) }
        case let .release(peer):
            // The other end is told at once (it may have missed the releasing end's own notice).
            if relay?.release(RelayService.Pair(sender, peer)) == true { send(RelayDesk.released(by: sender), to: peer, now: now) }
        case let .pathAck(sequence) where pingAnswered(sequence, from: sender):
            break  // `meshctl ping`'s
        case .pathProbe, .pathAck, .grant, .refuse, .directRestored:
            apply(pathCore.received(message, from: sender, node: node, sessions: deviceSessions, now: now), now: now)
        }
        drain()
    }

    /// Relay side: sends `grant` to `member` again unless its side of `pair` has latched (it
    /// switched) or the allocation is gone; returns whether it sent.
    func regrantIfNotLatched(_ grant: RelayMessage, to member: NodeID, in pair: RelayService.Pair) async -> Bool {
        guard let relay, relay.pairs(involving: member).contains(pair), !(await relay.hasLatched(member, in: pair)) else { return false }
        send(grant, to: member, now: clock.now)
        drain()
        return true
    }

    /// Relay side: allocate ports for the pair and tell both ends (``RelayDesk`` decides).
    func serveRelayRequest(id: UInt32, peer: NodeID, from requester: NodeID) async {
        let now = clock.now
        guard let node, let relay else {
            send(.refuse(id: id, peer: peer, reason: .notARelay), to: requester, now: now)
            drain()
            return
        }
        switch RelayDesk.decide(peer: peer, requester: requester, node: node) {
        case let .refuse(reason, counted):
            if counted { agentDrops.count(.relayPairRefused) }
            send(.refuse(id: id, peer: peer, reason: reason), to: requester, now: now)
        case let .allocate(requesterAddress, peerAddress, expected):
            do {
                // A repeated request, or the other end asking for the same pair at the same moment,
                // gets the one allocation of the pair and its grants again, but no second round of
                // repeats (a flood of requests must not multiply the grants sent to the peer).
                let granted = try await relay.allocate(
                    requester: requester, requesterAddress: requesterAddress, peer: peer, peerAddress: peerAddress, expected: expected, now: now)
                let allocation = granted.allocation
                let grants = RelayDesk.grants(id: id, requester: requester, peer: peer, ports: allocation.ports, lease: relay.limits.lease)
                send(grants.requester, to: requester, now: clock.now)
                send(grants.peer, to: peer, now: clock.now)
                let pair = allocation.pair
                if granted.created {
                    ownedWork.start {
                        for gap in RelayDesk.grantRepeatGaps {
                            guard (try? await Task.sleep(for: .seconds(gap.seconds))) != nil else { return }  // shutting down
                            guard await self.regrantIfNotLatched(grants.peer, to: peer, in: pair) else { return }
                        }
                    }
                }
                logger.info(granted.created ? "relaying" : "relaying (an allocated pair asked again)", metadata: [
                    "pair": "\(memberName(requester))↔\(memberName(peer))",
                    "ports": "\(allocation.ports[requester] ?? 0)/\(allocation.ports[peer] ?? 0)",
                ])
            } catch {
                if case RelayError.memberPairLimit = error { agentDrops.count(.relayPairRefused) }
                if case RelayError.pairWithItself = error { agentDrops.count(.relayPairRefused) }
                send(.refuse(id: id, peer: peer, reason: .full), to: requester, now: clock.now)
            }
        }
        drain()
    }
}

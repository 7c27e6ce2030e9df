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
        relay = RelayService(group: group, limits: limits)
        logger.info("relaying for other members", metadata: ["ports": "\(limits.ports)", "max": "\(limits.maximumAllocations)"])
    }

    /// Runs the path manager's timers (every 50 ms) and the relay's lease expiry.
    func pathTick() {
        guard let node else { return }
        let now = clock.now
        let candidates = relayCandidateFunction(node)
        let names: (NodeID) -> String = { node.members[$0]?.name ?? $0.hex }
        if pendingLocalAddresses != nil, now - lastAddressPoll >= AgentTiming.addressSettleInterval { pollLocalAddresses(now: now) }
        // First handshakes to hurry and receive counters to read, when due (the device loop).
        if deviceWorkDue(now: now) { requestDeviceTurn() }
        let actions = paths.tick(now: now, relayCandidates: candidates, name: names)
        perform(actions, now: now)
        if let relay, now - lastRelayExpiry >= AgentTiming.relayExpiryCheck {
            lastRelayExpiry = now
            for pair in relay.expire(now: now) {
                logger.info("relay lease expired", metadata: ["pair": "\(names(pair.low))↔\(names(pair.high))"])
            }
        }
        drain()
    }

    func perform(_ actions: [PathManager.Action], now: Timestamp) {
        // Reroutes are applied by one reconcile after the batch (the device loop's next turn, at
        // once): a reconcile reads and plans the whole device, so one per peer made a batch of
        // 1,000 reroutes take seconds.
        var rerouted: [NodeID] = [], reachable: [NodeID] = []
        defer {
            if !rerouted.isEmpty {
                restartFirstHandshakes(rerouted + reachable, now: now)
                pendingPunches.append(contentsOf: rerouted)
                reconcileNow(now)
            } else if restartFirstHandshakes(reachable, now: now) {
                reconcileNow(now)  // adds the re-created peers back
            }
        }
        for action in actions {
            switch action {
            case let .probe(target, sequence):
                send(.pathProbe(sequence: sequence), to: target, now: now)
            case let .requestRelay(relayNode, peer, id):
                logger.notice("direct path failed; asking for a relay", metadata: [
                    "peer": "\(memberName(peer))", "relay": "\(memberName(relayNode))", "reason": "\(paths.reason(for: peer) ?? "")",
                ])
                send(.request(id: id, peer: peer), to: relayNode, now: now)
            case let .refresh(relayNode, peer):
                send(.refresh(peer: peer), to: relayNode, now: now)
            case let .release(relayNode, peer):
                send(.release(peer: peer), to: relayNode, now: now)
            case let .notifyDirect(peer):
                send(.directRestored, to: peer, now: now)
            case let .reroute(peer):
                logRoute(of: peer)
                rerouted.append(peer)
            case let .reachabilityChanged(peer):
                logRoute(of: peer)
                if paths.route(to: peer) == .direct { reachable.append(peer) }
            }
        }
    }

    func logRoute(of peer: NodeID) {
        switch paths.route(to: peer) {
        case .direct: logger.notice("path is direct", metadata: ["peer": "\(memberName(peer))"])
        case let .relayed(relayNode, endpoint):
            relayEndpoints.insert(endpoint)
            logger.notice("path is relayed", metadata: ["peer": "\(memberName(peer))", "relay": "\(memberName(relayNode))", "endpoint": "\(endpoint)"])
        case .unreachable:
            logger.warning("peer unreachable", metadata: ["peer": "\(memberName(peer))", "reason": "\(paths.reason(for: peer) ?? "")"])
        }
    }

    /// Peers without a handshake start their first handshake afresh on their new paths: the
    /// initiating end re-creates them (WireGuard initiates at once instead of after its 5 s
    /// retry), the other end waits its turn (see ``FirstHandshakes``). Returns whether any peer
    /// is to be re-created (the device loop removes it, a reconcile adds it back).
    @discardableResult
    func restartFirstHandshakes(_ peers: [NodeID], now: Timestamp) -> Bool {
        var recreate: [X25519PublicKey] = []
        for peer in peers {
            guard let key = node?.members[peer]?.certificate.wireGuardKey,
                  let state = lastDeviceState?.peers[key], state.lastHandshakeTime == nil
            else { continue }
            guard firstHandshakes.start(key, now: now) else { continue }
            if firstHandshakes.isInitiator(towards: key) { recreate.append(key) }
        }
        pendingRecreations.append(contentsOf: recreate)
        return !recreate.isEmpty
    }

    /// Peers back on a direct path with a session (made through the relay) get one packet into
    /// the tunnel now: WireGuard sends it to the peer's direct endpoint, which opens this end's NAT
    /// towards the peer's. Both ends heal together (the first tells the other), so their packets
    /// cross and punch through; without it a session waits for a keepalive (up to 25 s) while the
    /// first packets die at the other end's NAT, and the path failed back to the relay.
    func punchHealedPaths(_ peers: [NodeID]) {
        var keys: [X25519PublicKey] = []
        for peer in peers where paths.route(to: peer) == .direct {
            guard let key = node?.members[peer]?.certificate.wireGuardKey, lastDeviceState?.peers[key]?.lastHandshakeTime != nil else { continue }
            keys.append(key)
        }
        nudge(keys)
    }

    func send(_ message: RelayMessage, to target: NodeID, now: Timestamp) {
        node?.sendExtension(type: message.code.rawValue, body: message.body, to: target, now: now)
    }

    /// Relays that both this node and `peer` reach directly, best (lowest combined round trip) first.
    func relayCandidateFunction(_ node: MeshNode) -> (NodeID, Set<NodeID>) -> [NodeID] {
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
                    return nil  // the peer announces relays, and not this one: it cannot reach it
                }
                return (relay.id, mine + theirs)
            }
            return scored.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0)
        }
    }

    /// The relays this node reaches, for its record (quantized so small RTT changes do not
    /// publish new versions).
    func reachableRelays() -> [RelayReachability] {
        guard let node else { return [] }
        return node.members.all
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

    /// Handles a path or relay message from an authenticated member.
    func handleRelayMessage(_ message: RelayMessage, from sender: NodeID) {
        let now = clock.now
        // A relayed member that moved sends from its new address at once (its path probes to this
        // relay): allow it there, or its relayed traffic was dropped until its next lease refresh
        // (up to 10 s; seen as 15 s outages when the roaming benchmark moved a relayed host).
        if let relay, let address = node?.lastEndpoint(of: sender)?.address {
            for pair in relay.pairs(involving: sender) { relay.allow(sender, in: pair, from: address) }
        }
        switch message {
        case let .pathProbe(sequence):
            send(.pathAck(sequence: sequence), to: sender, now: now)
        case let .pathAck(sequence):
            perform(paths.probeAnswered(sequence, from: sender, now: now), now: now)
        case let .request(id, peer):
            ownedWork.start { await self.serveRelayRequest(id: id, peer: peer, from: sender) }
        case let .grant(id, peer, port, _):
            // The relay port is on the address the relay was authenticated from, never elsewhere.
            guard let node, let address = node.lastEndpoint(of: sender)?.address else {
                agentDrops.count(.forgedRelayGrant)
                break
            }
            let endpoint = SocketEndpoint(address: address, port: port)
            let peerIsLiveMember = peer != node.id && node.members[peer]?.status.isLive == true
            perform(paths.grantReceived(
                id: id, peer: peer, endpoint: endpoint, from: sender, senderIsRelay: isOfferingRelay(sender), peerIsLiveMember: peerIsLiveMember,
                now: now), now: now)
        case let .refuse(id, peer, reason):
            logger.warning("relay refused", metadata: ["relay": "\(memberName(sender))", "peer": "\(memberName(peer))", "reason": "\(reason)"])
            paths.relayRefused(peer, id: id, relay: sender, now: now)
        case let .refresh(peer):
            guard let relay else { return }
            let pair = RelayService.Pair(sender, peer)
            guard let allocation = relay.renew(pair, now: now) else {
                send(.refuse(id: 0, peer: peer, reason: .unknownPeer), to: sender, now: now)
                break
            }
            if let address = node?.lastEndpoint(of: sender)?.address { relay.allow(sender, in: pair, from: address) }
            // The other end may have missed its grant: it has not switched while this end still
            // sends through the relay.
            let grant = RelayMessage.grant(
                id: 0, peer: sender, port: allocation.ports[peer] ?? 0, lease: UInt16(min(65535, relay.limits.lease.seconds)))
            ownedWork.start { _ = await self.regrantIfNotLatched(grant, to: peer, in: pair) }
        case let .release(peer):
            relay?.release(RelayService.Pair(sender, peer))
        case .directRestored:
            perform(paths.directRestored(sender, now: now), now: now)
        }
        drain()
    }

    /// Whether `member` may act as a relay: its certificate has the relay role and its signed
    /// record the relay flag (a grant from anyone else is never believed).
    func isOfferingRelay(_ member: NodeID) -> Bool {
        guard let record = node?.members[member] else { return false }
        return record.status.isLive && record.certificate.roles.contains(.relay) && record.record.flags.contains(.relay)
    }

    /// Relay side: sends `grant` to `member` again unless its side of `pair` has latched (it
    /// switched) or the allocation is gone; returns whether it sent.
    func regrantIfNotLatched(_ grant: RelayMessage, to member: NodeID, in pair: RelayService.Pair) async -> Bool {
        guard let relay, relay.pairs(involving: member).contains(pair), !(await relay.hasLatched(member, in: pair)) else { return false }
        send(grant, to: member, now: clock.now)
        drain()
        return true
    }

    /// Relay side: allocate ports for the pair and tell both ends.
    func serveRelayRequest(id: UInt32, peer: NodeID, from requester: NodeID) async {
        let now = clock.now
        guard let node, let relay else {
            send(.refuse(id: id, peer: peer, reason: .notARelay), to: requester, now: now)
            drain()
            return
        }
        guard peer != requester, peer != node.id,
              let requesterMember = node.members[requester], requesterMember.status.isLive,
              let peerMember = node.members[peer], peerMember.status.isLive,
              let requesterAddress = node.lastEndpoint(of: requester)?.address
        else {
            agentDrops.count(.relayPairRefused)
            send(.refuse(id: id, peer: peer, reason: .unknownPeer), to: requester, now: now)
            drain()
            return
        }
        // The peer's address as this node last authenticated it, else what it announces.
        guard let peerAddress = node.lastEndpoint(of: peer)?.address
            ?? peerMember.record.wireGuardEndpoints.sorted(by: { $0.kind > $1.kind }).first?.endpoint.address
        else {
            send(.refuse(id: id, peer: peer, reason: .peerUnreachable), to: requester, now: now)
            drain()
            return
        }
        do {
            // A repeated request, or the other end asking for the same pair at the same moment,
            // gets the one allocation of the pair and its grants again, but no second round of
            // repeats (a flood of requests must not multiply the grants sent to the peer).
            // Where each end's WireGuard listens, as it announces at the address it was
            // authenticated from: the relay sends there until that end has sent itself.
            var expected: [NodeID: SocketEndpoint] = [:]
            for (member, address) in [(requesterMember, requesterAddress), (peerMember, peerAddress)] {
                expected[member.id] = member.record.wireGuardEndpoints.first { $0.endpoint.address == address }?.endpoint
            }
            let granted = try await relay.allocate(
                requester: requester, requesterAddress: requesterAddress, peer: peer, peerAddress: peerAddress, expected: expected, now: now)
            let allocation = granted.allocation
            let lease = UInt16(min(65535, relay.limits.lease.seconds))
            send(.grant(id: id, peer: peer, port: allocation.ports[requester] ?? 0, lease: lease), to: requester, now: clock.now)
            let peerGrant = RelayMessage.grant(id: 0, peer: requester, port: allocation.ports[peer] ?? 0, lease: lease)
            send(peerGrant, to: peer, now: clock.now)
            // The peer learns of the allocation from this one datagram: repeat it (0.3, 1, 2.5
            // and 5 s later) until the peer sends through the relay. Without it, a lost grant left
            // one end relayed and the other direct, and no traffic passed until the next refresh.
            let pair = allocation.pair
            if granted.created {
                ownedWork.start {
                    for delay in [0.3, 0.7, 1.5, 2.5] {
                        guard (try? await Task.sleep(for: .seconds(delay))) != nil else { return }  // shutting down
                        guard await self.regrantIfNotLatched(peerGrant, to: peer, in: pair) else { return }
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
        drain()
    }
}

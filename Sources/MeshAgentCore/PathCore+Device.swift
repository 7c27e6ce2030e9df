import MeshCore
import MeshCrypto

/// The device plan: which WireGuard peers this node should have, where each one's packets go, and
/// what a reading of the device's counters means for the paths. meshd and the simulator plan and
/// observe their devices through these (each applies the plan as differences its own way).
extension PathCore {
    /// How long a handshake counts as a working path (WireGuard re-keys every 120 s; a session
    /// lapses at 180 s).
    static let workingHandshakeAge = Interval.seconds(150)
    /// A dead member's peer stays while its WireGuard session lives: its meshd is down or cut off,
    /// but the tunnel carries traffic (a meshd upgrade, a crash, cuts no tunnel).
    static let sessionLifetime = Interval.seconds(180)
    /// Keepalive towards a relay or through a NAT: holds the relay's latch and the mapping open.
    static let keepaliveSeconds: UInt16 = 25
    /// The refusal memory is dropped whole past this many members (a bound on remote input).
    static let refusalMemoryCap = 16_384

    /// The peers WireGuard should have: every live member (and a dead one whose session lives),
    /// with its announced prefixes less those covering another member's overlay address, and the
    /// endpoint chosen for it: the relay's port while relayed, else ``EndpointChoice`` over its
    /// ranked endpoints. Keepalives only towards relays or from behind NAT, and only from the end
    /// that may initiate (turning one on makes WireGuard send at once).
    /// `device`: the device's peers as last read.
    package mutating func planDevice(
        node: MeshNode, host: PlanningHost, device: (X25519PublicKey) -> DevicePeerView?, now: Timestamp
    ) -> DevicePlan {
        var plan = DevicePlan()
        var relayMembers: [Member]?
        let relays = { relayMembers ?? { let found = Self.relayMembers(node); relayMembers = found; return found }() }
        let addressBook = OverlayAddressBook(
            [(id: host.nodeID, addresses: host.overlayAddresses + [NodeCertificate.linkLocalAddress(of: host.nodeID)])] + node.members.all.map { (id: $0.id, addresses: $0.certificate.ownedAddresses) })
        let (offers, refusedRoutes) = routeOffers(node: node, host: host, addressBook: addressBook)
        plan.routesChanged = routes.update(offers: offers, name: { node.members[$0]?.name ?? $0.hex }, now: now)
        for (member, prefix) in refusedRoutes where deviceMemory.refusedRoutes.insert("\(member.hex) \(prefix)").inserted {
            if deviceMemory.refusedRoutes.count >= Self.refusalMemoryCap { deviceMemory.refusedRoutes.removeAll() }
            plan.refusedRoutes.append((member, prefix))
        }
        let daemon = daemonRoutes.update(node: node, host: host, addressBook: addressBook) { [paths] member in
            paths.silentSinceFailure(member) ? "has no path (\(paths.reason(for: member) ?? "unreachable"))" : nil
        }
        (plan.daemonRoutesChanged, plan.refusedDaemonRoutes, plan.ignoredDaemonRoutes) = daemon
        let carriedByGateway = routes.carriedByGateway, carriedByDaemon = daemonRoutes.carried
        // Prefixes routed into the mesh here (the default routes aside: WireGuard's fwmark keeps its
        // packets off them): no endpoint inside them is chosen.
        let routed = (routes.routed + carriedByDaemon.values.joined()).filter { !$0.isDefault }
        for member in node.members.all {
            let key = member.certificate.wireGuardKey
            guard key != firstHandshakes.ownKey else { continue }
            let kernel = device(key)
            let sessionLives = member.status == .dead && kernel?.handshake(within: Self.sessionLifetime, now: now) == true
            guard member.status.isLive || sessionLives else { continue }
            var allowed: [IPPrefix]
            if member.record.announcedPrefixes.isEmpty {
                allowed = member.certificate.addresses.map(IPPrefix.init(host:))
            } else {
                let (kept, refused) = addressBook.filter(member.record.announcedPrefixes, of: member.id)
                allowed = kept
                if !refused.isEmpty, deviceMemory.refusalReportedVersions[member.id] != member.record.version {
                    if deviceMemory.refusalReportedVersions.count >= Self.refusalMemoryCap { deviceMemory.refusalReportedVersions.removeAll() }
                    deviceMemory.refusalReportedVersions[member.id] = member.record.version
                    plan.refused += refused.map { (member.id, $0) }
                }
            }
            let carried = (carriedByGateway[member.id] ?? []) + (carriedByDaemon[member.id] ?? [])
            if !carried.isEmpty { allowed += carried.filter { !allowed.contains($0) } }
            let endpoint: SocketEndpoint?
            var keepalive: UInt16 = host.behindNAT ? Self.keepaliveSeconds : 0
            if !member.status.isLive {
                endpoint = nil  // as WireGuard has it: nothing new is known about a dead member
            } else if case let .relayed(_, relayEndpoint) = paths.route(to: member.id) {
                endpoint = relayEndpoint
                keepalive = Self.keepaliveSeconds
            } else {
                endpoint = chooseEndpoint(for: member, kernel: kernel, host: host, routed: routed, relays: relays, now: now)
            }
            if keepalive > 0, !firstHandshakes.mayInitiate(key, now: now) { keepalive = 0 }
            plan.peers.append(PlannedPeer(member: member.id, publicKey: key, endpoint: endpoint, allowedIPs: allowed, persistentKeepalive: keepalive))
        }
        return plan
    }

    /// The device took a plan: `added` peers are new on it (with an endpoint or not), `moved` got a
    /// new endpoint. A new peer's path is watched at once (its first handshake shows whether the
    /// direct path works, long before WireGuard's counters would) and its first handshake is
    /// scheduled. Returns the peers to nudge now (one packet into the tunnel, so WireGuard
    /// initiates at once): those this end may initiate towards.
    package mutating func deviceApplied(
        added: [(key: X25519PublicKey, hasEndpoint: Bool)], moved: [X25519PublicKey], node: MeshNode, now: Timestamp
    ) -> [X25519PublicKey] {
        let nudges = (added.filter(\.hasEndpoint).map(\.key) + moved).filter { firstHandshakes.mayInitiate($0, now: now) }
        if !added.isEmpty {
            let members = Self.membersByWireGuardKey(node)
            for peer in added {
                if let member = members[peer.key] { paths.noteActivity(member.id, now: now) }
                if peer.hasEndpoint, !firstHandshakes.isWaiting(peer.key) {
                    let roundTrip = members[peer.key].flatMap { pathRoundTrip(to: $0.id, node: node) }
                    firstHandshakes.start(peer.key, now: now, moved: false, roundTrip: roundTrip)
                }
            }
        }
        return nudges
    }

    /// A reading of the device's peers. Data arriving is a working path; data sent without any
    /// arriving makes the path watched (probes only then). Members whose data arrives from an
    /// endpoint they do not announce themselves are told where this node sees them (behind NAT,
    /// or moved), at once on a change and again every ``AgentTiming/endpointReportRefresh``.
    package mutating func observeDevice(_ device: [X25519PublicKey: DevicePeerView], node: MeshNode, now: Timestamp) -> DeviceObservation {
        var observation = DeviceObservation()
        var relayMembers: [Member]?
        let relays = { relayMembers ?? { let found = Self.relayMembers(node); relayMembers = found; return found }() }
        let previous = deviceMemory.counters
        deviceMemory.counters = device.mapValues { ($0.receivedBytes, $0.transmittedBytes) }
        let members = device.isEmpty ? [:] : Self.membersByWireGuardKey(node)
        var movedActions: [PathManager.Action] = []
        for (key, peer) in device {
            guard let member = members[key] else { continue }
            if endpointContradictsPath(member.id, deviceEndpoint: peer.endpoint, now: now)
                || (peer.transmittedBytes != previous[key]?.transmitted
                    && sendsToStaleRelayPort(member, endpoint: peer.endpoint, relays: relays, now: now)) {
                observation.contradictsPath = true
            }
            let before = previous[key]
            // Reported only while data arrives from there (the receive counter grew since the last
            // reading, or a peer new since then has received some): a recent handshake alone is no
            // evidence. After a member moved, its old endpoint (where the kernel still sends) was
            // reported back to it within 100 ms, it announced that as observed, and peers kept
            // sending there for 15 s.
            if peer.receivedBytes != (before?.received ?? 0), member.status.isLive, let seen = endpointToReport(member, peer, now: now) {
                observation.endpointReports.append((member.id, seen))
            }
            guard let before else { continue }
            if peer.receivedBytes != before.received {
                if let endpoint = peer.endpoint {
                    if sendsStraightFromNewAddress(member, endpoint: endpoint, relays: relays) {
                        movedActions += paths.directDataFromMovedPeer(member.id, now: now)
                    } else if paths.route(to: member.id) == .direct, !relayEndpoints.contains(endpoint) {
                        deviceMemory.directSources[member.id] = endpoint
                    }
                }
                paths.noteReceived(member.id, now: now)
            } else if peer.transmittedBytes != before.transmitted {
                paths.noteActivity(member.id, now: now)
            }
        }
        if !movedActions.isEmpty {
            let sessions: Sessions = { key in device[key].map { $0.lastHandshake != nil } }
            observation.effects = effects(of: movedActions, node: node, sessions: sessions, now: now)
        }
        return observation
    }

    /// Whether `member`, relayed from this end, now sends its WireGuard data straight to this
    /// node from `endpoint` (WireGuard roamed there: the data is authenticated), an address other
    /// than the one its data came from while the path was direct. It moved (its NAT renumbered,
    /// say) and never took the relay, whose allocation still expects it at the old address: this
    /// end's traffic through the relay was lost until the direct retry, 1.5–2.3 s in the
    /// simulator's `roaming` sweep. The same address again (a path that failed one way only) is
    /// left to the probes.
    func sendsStraightFromNewAddress(_ member: Member, endpoint: SocketEndpoint, relays: () -> [Member]) -> Bool {
        guard case .relayed = paths.route(to: member.id), let before = deviceMemory.directSources[member.id],
              before.address != endpoint.address, !relayEndpoints.contains(endpoint)
        else { return false }
        return Self.relay(whosePort: endpoint, serves: member, among: relays()) == nil
    }

    /// The peers able to see this node's outside endpoint, per address family: a recent handshake,
    /// reached directly (not through a relay's port) from outside this host's `subnets`
    /// (``ObservedEndpoints/OutsideContacts``).
    package func outsideContacts(
        _ device: some Sequence<DevicePeerView>, subnets: [(address: IPAddress, subnet: IPPrefix)], now: Timestamp
    ) -> ObservedEndpoints.OutsideContacts {
        var contacts = ObservedEndpoints.OutsideContacts()
        for peer in device {
            guard peer.handshake(within: Self.workingHandshakeAge, now: now), let endpoint = peer.endpoint, !relayEndpoints.contains(endpoint),
                  !subnets.contains(where: { $0.subnet.contains(endpoint.address) })
            else { continue }
            if endpoint.address.isIPv4 { contacts.ipv4 += 1 } else { contacts.ipv6 += 1 }
        }
        return contacts
    }

    /// After a restart the path state starts empty, but the device may still send a peer's traffic
    /// to a relay's port (a relayed pair whose sessions outlived meshd): such peers are relayed
    /// through that relay from now on, so the state says so, the lease is refreshed from this end
    /// too and direct retries begin. (Before, the restarted end said `direct` while WireGuard kept
    /// the relay port, until the next failure or heal.) A relay port is an endpoint on an address
    /// of a member offering relays that is neither one of that member's own WireGuard endpoints
    /// nor one the peer announces.
    package mutating func adoptRelayedPaths(
        _ device: [X25519PublicKey: DevicePeerView], node: MeshNode, sessions: Sessions, now: Timestamp
    ) -> [Effect] {
        let relays = node.members.all.filter { Self.isOfferingRelay($0.id, node: node) }
        guard !relays.isEmpty, !device.isEmpty else { return [] }
        let members = Self.membersByWireGuardKey(node)
        var actions: [PathManager.Action] = []
        for (key, peer) in device.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
            guard let endpoint = peer.endpoint, let member = members[key], member.status.isLive, paths.route(to: member.id) == .direct,
                  let relay = Self.relay(whosePort: endpoint, serves: member, among: relays)
            else { continue }
            relayEndpoints.insert(endpoint)
            actions += paths.relayGranted(member.id, relay: relay.id, endpoint: endpoint, requested: false, now: now)
        }
        return effects(of: actions, node: node, sessions: sessions, now: now)
    }

    /// The relay among `relays` whose port `endpoint` is, for `member`: an endpoint on an address of
    /// a member offering relays that is neither that relay's own WireGuard endpoint nor one `member`
    /// announces (a peer behind the relay's NAT shares its address).
    static func relay(whosePort endpoint: SocketEndpoint, serves member: Member, among relays: [Member]) -> Member? {
        guard !member.record.wireGuardEndpoints.contains(where: { $0.endpoint == endpoint }) else { return nil }
        return relays.first { relay in
            relay.id != member.id
                && (relay.record.gossipEndpoints + relay.record.wireGuardEndpoints).contains { $0.endpoint.address == endpoint.address }
                && !relay.record.wireGuardEndpoints.contains { $0.endpoint == endpoint }
        }
    }

    /// Whether WireGuard sends `member`'s traffic to a relay's port while this end's path to it is
    /// direct and nothing has arrived from it for ``AgentTiming/staleRelayPort``: the other end
    /// was relayed alone (an asymmetric path), WireGuard roamed here to the relay's source, and the
    /// other end has since healed and the relay released the pair. Everything sent there is lost,
    /// while the path probes (over the gossip socket) are answered, so nothing else noticed (the
    /// simulator's `lossy` seed 23: 56 s without replies).
    /// `relays`: the members offering relays (read once per plan or reading, only when needed).
    func sendsToStaleRelayPort(_ member: Member, endpoint: SocketEndpoint?, relays: () -> [Member], now: Timestamp) -> Bool {
        guard let endpoint, paths.route(to: member.id) == .direct, now - paths.lastReceived(from: member.id) >= AgentTiming.staleRelayPort
        else { return false }
        if relayEndpoints.contains(endpoint) { return true }
        return Self.relay(whosePort: endpoint, serves: member, among: relays()) != nil
    }

    /// The members with the relay role and flag, live or not (a dead relay's port is stale too).
    static func relayMembers(_ node: MeshNode) -> [Member] {
        node.members.all.filter { $0.record.flags.contains(.relay) && $0.certificate.roles.contains(.relay) }
    }

    /// The device plan's memory of `member` goes (it left, was revoked or declared dead).
    package mutating func forgetDevicePlan(of member: NodeID) {
        deviceMemory.forget(member)
    }

    /// Everything the device plan remembers goes (this node left the network).
    package mutating func resetDevicePlan() {
        deviceMemory = DevicePlanMemory()
    }

    /// The body of an endpoint report (``MessageCode/wireGuardEndpointReport``): the endpoint.
    package static func endpointReportBody(_ endpoint: SocketEndpoint) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(endpoint)
        return writer.bytes
    }

    /// Every member by its WireGuard key (the device names peers by key).
    package static func membersByWireGuardKey(_ node: MeshNode) -> [X25519PublicKey: Member] {
        Dictionary(node.members.all.map { ($0.certificate.wireGuardKey, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A member's WireGuard endpoints in the order worth trying from `host`: on one of its subnets;
    /// global IPv6; what peers observed (the outside of a NAT); configured; other IPv4; reflexive
    /// (a member behind NAT: its other IPv4 addresses last, they are its inside). Endpoints of an
    /// address family the host lacks are left out.
    package static func rankedEndpoints(of member: Member, from host: PlanningHost) -> [SocketEndpoint] {
        let haveIPv4 = host.localAddresses.isEmpty || host.localAddresses.contains { $0.isIPv4 }
        let haveIPv6 = host.localAddresses.contains { !$0.isIPv4 }
        let behindNAT = member.record.flags.contains(.behindNAT)
        func rank(_ announced: AnnouncedEndpoint) -> Int? {
            let address = announced.endpoint.address
            guard address.isIPv4 ? haveIPv4 : haveIPv6 else { return nil }
            if announced.kind == .local, host.subnets.contains(where: { $0.subnet.contains(address) }) { return 0 }
            switch announced.kind {
            case .local: return address.isIPv4 ? (behindNAT ? 6 : 4) : 1
            case .observed: return 2
            case .advertised: return 3
            case .reflexive: return 5
            }
        }
        var seen = Set<SocketEndpoint>()
        return member.record.wireGuardEndpoints
            .compactMap { announced in rank(announced).map { ($0, announced.endpoint) } }
            .sorted { $0.0 < $1.0 }
            .map(\.1)
            .filter { seen.insert($0).inserted }
    }

    /// The endpoint to configure for `member`, or nil to keep what the device has. A working path
    /// (a recent handshake, not through a relay's port) is kept, including one WireGuard learned by
    /// roaming; otherwise the ranked candidates are tried in turn (``EndpointChoice``).
    private mutating func chooseEndpoint(
        for member: Member, kernel: DevicePeerView?, host: PlanningHost, routed: [IPPrefix], relays: () -> [Member], now: Timestamp
    ) -> SocketEndpoint? {
        // Never an endpoint inside a prefix this node routes into the mesh (`routed`: a gateway's or
        // a routing daemon's): WireGuard's packets to it would enter the tunnel itself (a gateway
        // announced its LAN address while its uplink was down, and a member sent a gigabyte round
        // the loop in the lab).
        let candidates = Self.rankedEndpoints(of: member, from: host).filter { endpoint in !routed.contains { $0.contains(endpoint.address) } }
        guard !candidates.isEmpty else { return nil }
        // A relay endpoint left over from a relayed period is never a working direct path.
        let onRelay = (kernel?.endpoint.map(relayEndpoints.contains) ?? false)
            || sendsToStaleRelayPort(member, endpoint: kernel?.endpoint, relays: relays, now: now)
        let healthy = kernel?.handshake(within: Self.workingHandshakeAge, now: now) == true && !onRelay
        let decision = EndpointChoice.decide(
            previous: deviceMemory.endpointChoices[member.id], candidates: candidates, kernelEndpoint: kernel?.endpoint, healthy: healthy,
            onRelay: onRelay, receivedAt: paths.lastReceived(from: member.id), now: now)
        deviceMemory.endpointChoices[member.id] = decision.choice
        return decision.endpoint
    }

    /// Where `member`'s data arrives from (`peer`), if it should be told: not an endpoint it
    /// announces of its own knowledge, not a relay's port, and changed or due for a refresh.
    private mutating func endpointToReport(_ member: Member, _ peer: DevicePeerView, now: Timestamp) -> SocketEndpoint? {
        guard let seen = peer.endpoint, peer.handshake(within: Self.workingHandshakeAge, now: now) else { return nil }
        // An observed endpoint is reported still, so it stays corroborated by every peer that sees it.
        if member.record.wireGuardEndpoints.contains(where: { $0.endpoint == seen && $0.kind != .observed && $0.kind != .reflexive }) { return nil }
        // A relayed peer is seen at the relay's port: not where it can be reached directly
        // (reported, the peer announced the relay port as its own, and after healing the other
        // end tried it first: 10 s of loss in the failover benchmark).
        if relayEndpoints.contains(seen) { return nil }
        if let last = deviceMemory.reportedEndpoints[member.id], last.endpoint == seen, now - last.at < AgentTiming.endpointReportRefresh { return nil }
        deviceMemory.reportedEndpoints[member.id] = (seen, now)
        return seen
    }
}

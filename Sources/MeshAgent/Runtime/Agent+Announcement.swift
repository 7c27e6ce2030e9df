import MeshCore

extension Agent {
    /// What this node announces: its local addresses with the gossip and WireGuard ports, the
    /// configured extra endpoints, the WireGuard endpoints peers observed (only corroborated ones,
    /// in at most two slots that never push out a local or configured endpoint: see
    /// ``ObservedEndpoints``), and its overlay addresses.
    func announcement(now: Timestamp) -> LocalAnnouncement {
        let gossipPort = configuration.gossip.port, wireGuardPort = configuration.interface.listenPort
        let slots = NodeRecord.maximumEndpoints
        var gossip = localAddresses.map { AnnouncedEndpoint(.local, SocketEndpoint(address: $0, port: gossipPort)) }
        for endpoint in liveEndpoints.advertise {
            gossip.append(AnnouncedEndpoint(.advertised, SocketEndpoint(address: endpoint.address, port: gossipPort)))
        }
        let local = localAddresses.map { SocketEndpoint(address: $0, port: wireGuardPort) }
        let wireGuard = ObservedEndpoints.recordEndpoints(
            local: local, advertised: liveEndpoints.advertise, observed: announceableObservedEndpoints(now: now))
        let prefixes = (enrollment?.certificate.addresses ?? []).map(IPPrefix.init(host:)) + (enrollment?.certificate.routes ?? [])
        // One gossip slot stays free for the reflexive endpoint MeshCore adds when signing, so it
        // never pushes a local endpoint out either.
        return LocalAnnouncement(
            gossipEndpoints: Array(gossip.prefix(slots - 1)), wireGuardEndpoints: wireGuard, prefixes: prefixes,
            offersRelay: (enrollment?.certificate.roles.contains(.relay) ?? false) && configuration.relay.enabled,
            behindNAT: isBehindNAT, relays: announcedRelays)
    }

    /// The observed WireGuard endpoints this node may announce now (see ``ObservedEndpoints``).
    func announceableObservedEndpoints(now: Timestamp) -> [SocketEndpoint] {
        observedEndpoints.announceable(now: now, required: observedEndpoints.requiredReporters(peersInContact: peersInWireGuardContact(now: now)))
    }

    /// How many peers completed a WireGuard handshake with this node within a session lifetime
    /// (the members that can see where this node's WireGuard traffic comes from).
    func peersInWireGuardContact(now: Timestamp) -> Int {
        guard let peers = lastDeviceState?.peers.values else { return 0 }
        return peers.reduce(0) { count, peer in
            guard let handshake = peer.lastHandshakeTime, now.secondsValue - Double(handshake.components.seconds) < 150 else { return count }
            return count + 1
        }
    }

    /// Whether peers see us at an address that is not ours (we are behind NAT).
    var isBehindNAT: Bool {
        guard let reflexive = node?.reflexiveEndpoint else { return false }
        return !localAddresses.contains(reflexive.address)
    }

    /// Publishes a new record if the announcement changed.
    func announceIfChanged() {
        guard let node else { return }
        let now = clock.now
        node.announce(announcement(now: now), now: now)
        drain()
    }
}

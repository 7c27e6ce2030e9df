import MeshCore

extension Agent {
    /// What this node announces: its local addresses with the gossip and WireGuard ports, the
    /// configured extra endpoints, the WireGuard endpoints peers observed, and its overlay addresses.
    func announcement(now: Timestamp) -> LocalAnnouncement {
        let gossipPort = configuration.gossip.port, wireGuardPort = configuration.interface.listenPort
        var gossip = localAddresses.map { AnnouncedEndpoint(.local, SocketEndpoint(address: $0, port: gossipPort)) }
        var wireGuard = localAddresses.map { AnnouncedEndpoint(.local, SocketEndpoint(address: $0, port: wireGuardPort)) }
        for advertised in liveEndpoints.advertise {
            gossip.append(AnnouncedEndpoint(.advertised, SocketEndpoint(address: advertised.address, port: gossipPort)))
            wireGuard.append(AnnouncedEndpoint(.advertised, advertised))
        }
        // Fresh observations first: they are what works through NAT.
        let fresh = observedEndpoints.filter { now - $0.value < .seconds(300) }.sorted { $0.value > $1.value }.map(\.key)
        for endpoint in fresh where !wireGuard.contains(where: { $0.endpoint == endpoint }) {
            wireGuard.insert(AnnouncedEndpoint(.observed, endpoint), at: 0)
        }
        let prefixes = (enrollment?.certificate.addresses ?? []).map(IPPrefix.init(host:)) + (enrollment?.certificate.routes ?? [])
        return LocalAnnouncement(
            gossipEndpoints: Array(gossip.prefix(8)), wireGuardEndpoints: Array(wireGuard.prefix(8)), prefixes: prefixes,
            offersRelay: (enrollment?.certificate.roles.contains(.relay) ?? false) && configuration.relay.enabled,
            behindNAT: isBehindNAT, relays: announcedRelays)
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

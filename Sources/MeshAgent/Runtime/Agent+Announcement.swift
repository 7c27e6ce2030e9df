import MeshAgentCore
import MeshCore

extension Agent {
    /// What this node announces: its local addresses with the gossip and WireGuard ports, the
    /// configured extra endpoints, the WireGuard endpoints peers observed (only corroborated ones,
    /// in at most two slots that never push out a local or configured endpoint: see
    /// ``ObservedEndpoints``), behind NAT the reflexive address with the WireGuard port, and its
    /// overlay addresses.
    func announcement(now: Timestamp) -> LocalAnnouncement {
        let gossipPort = configuration.gossip.port, wireGuardPort = configuration.interface.listenPort
        let slots = NodeRecord.maximumEndpoints
        var gossip = localAddresses.map { AnnouncedEndpoint(.local, SocketEndpoint(address: $0, port: gossipPort)) }
        for endpoint in liveEndpoints.advertise {
            gossip.append(AnnouncedEndpoint(.advertised, SocketEndpoint(address: endpoint.address, port: gossipPort)))
        }
        let local = localAddresses.map { SocketEndpoint(address: $0, port: wireGuardPort) }
        // Behind NAT, where peers see the gossip socket with the WireGuard port: a port-keeping
        // NAT maps WireGuard's socket there too. Peers can try it before any peer's WireGuard has
        // reported the outside endpoint (an observed one; the first report took up to 25 s).
        let reflexive = isBehindNAT ? node?.reflexiveEndpoint.map { SocketEndpoint(address: $0.address, port: wireGuardPort) } : nil
        let wireGuard = ObservedEndpoints.recordEndpoints(
            local: local, advertised: liveEndpoints.advertise, observed: observedEndpoints.announced, reflexive: reflexive)
        let prefixes = (enrollment?.certificate.addresses ?? []).map(IPPrefix.init(host:)) + (enrollment?.certificate.routes ?? [])
        // One gossip slot stays free for the reflexive endpoint MeshCore adds when signing, so it
        // never pushes a local endpoint out either.
        return LocalAnnouncement(
            gossipEndpoints: Array(gossip.prefix(slots - 1)), wireGuardEndpoints: wireGuard, prefixes: prefixes,
            offersRelay: (enrollment?.certificate.roles.contains(.relay) ?? false) && configuration.relay.enabled,
            behindNAT: isBehindNAT, relays: announcedRelays)
    }

    /// Peers that can see this node's outside endpoint (``PathCore/outsideContacts(_:subnets:now:)``).
    func outsideContacts(now: Timestamp) -> ObservedEndpoints.OutsideContacts {
        guard let peers = lastDeviceState?.peers.values else { return ObservedEndpoints.OutsideContacts() }
        let subnets = LocalAddresses.subnets(excludingInterface: configuration.interface.name, excludedNetworks: [])
        return pathCore.outsideContacts(peers.lazy.map(DevicePeerView.init), subnets: subnets, now: now)
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

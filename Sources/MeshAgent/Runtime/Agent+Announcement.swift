import MeshAgentCore
import MeshCore

extension Agent {
    /// What this node announces (``AgentAnnouncement``, composed as the simulator's agents do).
    func announcement(now: Timestamp) -> LocalAnnouncement {
        agentAnnouncement.composed
    }

    /// The facts the announcement is composed from.
    var agentAnnouncement: AgentAnnouncement {
        // Addresses inside the prefixes this node serves are on the LAN behind it: members that
        // route the prefix through the mesh cannot use them as endpoints.
        let served = configuration.routes.serve.map(\.prefix)
        var announcement = AgentAnnouncement(
            localAddresses: localAddresses.filter { address in !served.contains { $0.contains(address) } },
            gossipPort: configuration.gossip.port, wireGuardPort: configuration.interface.listenPort)
        announcement.advertised = liveEndpoints.advertise
        announcement.observed = observedEndpoints.announced
        announcement.reflexive = node?.reflexiveEndpoint
        announcement.prefixes = ownAddresses.map(IPPrefix.init(host:))
        announcement.servedRoutes = servedRoutes
        announcement.offersRelay = (enrollment?.certificate.roles.contains(.relay) ?? false) && configuration.relay.enabled
        announcement.relays = announcedRelays
        return announcement
    }

    /// Peers that can see this node's outside endpoint (``PathCore/outsideContacts(_:subnets:now:)``).
    func outsideContacts(now: Timestamp) -> ObservedEndpoints.OutsideContacts {
        guard let peers = lastDeviceState?.peers.values else { return ObservedEndpoints.OutsideContacts() }
        let subnets = LocalAddresses.subnets(excludingInterface: configuration.interface.name, excludedNetworks: [])
        return pathCore.outsideContacts(peers.lazy.map(DevicePeerView.init), subnets: subnets, now: now)
    }

    /// Whether peers see us at an address that is not ours (we are behind NAT).
    var isBehindNAT: Bool { AgentAnnouncement.isBehindNAT(reflexive: node?.reflexiveEndpoint, localAddresses: localAddresses) }

    /// Publishes a new record if the announcement changed.
    func announceIfChanged() {
        guard let node else { return }
        let now = clock.now
        node.announce(announcement(now: now), now: now)
        drain()
    }
}

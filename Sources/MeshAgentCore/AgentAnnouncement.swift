import MeshCore

/// What an agent announces in its signed record, composed the same way by meshd and by the
/// simulator's agents: its local addresses with the gossip and WireGuard ports, configured extra
/// endpoints, the WireGuard endpoints peers observed (only corroborated ones, in at most two slots
/// that never push out a local or configured endpoint: see ``ObservedEndpoints``), behind NAT the
/// reflexive address with the WireGuard port, its overlay addresses, the routes it serves, and the
/// relays it reaches.
package struct AgentAnnouncement {
    package var localAddresses: [IPAddress]
    package var gossipPort: UInt16
    package var wireGuardPort: UInt16
    /// Extra endpoints from the configuration (`endpoints.advertise`).
    package var advertised: [SocketEndpoint] = []
    /// The observed WireGuard endpoints to announce (``ObservedEndpoints/announced``).
    package var observed: [SocketEndpoint] = []
    /// Where peers see this node's gossip socket (MeshCore's reflexive endpoint), if known.
    package var reflexive: SocketEndpoint?
    /// Its overlay addresses (as host prefixes).
    package var prefixes: [IPPrefix] = []
    /// The routes it serves as a gateway now.
    package var servedRoutes: [ServedRoute] = []
    package var offersRelay = false
    package var relays: [RelayReachability] = []

    package init(localAddresses: [IPAddress], gossipPort: UInt16, wireGuardPort: UInt16) {
        self.localAddresses = localAddresses
        self.gossipPort = gossipPort
        self.wireGuardPort = wireGuardPort
    }

    /// Whether peers see this node at an address that is not one of its own (it is behind NAT).
    package var behindNAT: Bool { Self.isBehindNAT(reflexive: reflexive, localAddresses: localAddresses) }

    /// Whether a node seen at `reflexive` with `localAddresses` of its own is behind NAT.
    package static func isBehindNAT(reflexive: SocketEndpoint?, localAddresses: [IPAddress]) -> Bool {
        guard let reflexive else { return false }
        return !localAddresses.contains(reflexive.address)
    }

    /// The announcement to sign.
    package var composed: LocalAnnouncement {
        let slots = NodeRecord.maximumEndpoints
        var gossip = localAddresses.map { AnnouncedEndpoint(.local, SocketEndpoint(address: $0, port: gossipPort)) }
        for endpoint in advertised {
            gossip.append(AnnouncedEndpoint(.advertised, SocketEndpoint(address: endpoint.address, port: gossipPort)))
        }
        let local = localAddresses.map { SocketEndpoint(address: $0, port: wireGuardPort) }
        // Behind NAT, where peers see the gossip socket with the WireGuard port: a port-keeping
        // NAT maps WireGuard's socket there too. Peers can try it before any peer's WireGuard has
        // reported the outside endpoint (an observed one; the first report took up to 25 s).
        let reflexiveWireGuard = behindNAT ? reflexive.map { SocketEndpoint(address: $0.address, port: wireGuardPort) } : nil
        let wireGuard = ObservedEndpoints.recordEndpoints(local: local, advertised: advertised, observed: observed, reflexive: reflexiveWireGuard)
        // One gossip slot stays free for the reflexive endpoint MeshCore adds when signing, so it
        // never pushes a local endpoint out either.
        return LocalAnnouncement(
            gossipEndpoints: Array(gossip.prefix(slots - 1)), wireGuardEndpoints: wireGuard, prefixes: prefixes,
            offersRelay: offersRelay, behindNAT: behindNAT, relays: relays, servedRoutes: servedRoutes)
    }
}

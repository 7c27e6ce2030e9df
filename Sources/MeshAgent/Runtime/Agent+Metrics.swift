import MeshAgentCore
import MeshCore
import NIOCore

/// Prometheus metrics (issue 14): the endpoint, what a scrape reads, and the events recorded as
/// they happen (``AgentMetrics``).
extension Agent {
    /// Binds the metrics endpoint when `metrics.listen` is set (nil otherwise).
    func startMetricsServer() async throws -> MetricsServer? {
        guard let listen = configuration.metrics.listen else { return nil }
        do {
            let server = try await MetricsServer(group: group, host: "\(listen.address)", port: Int(listen.port)) { [weak self] in
                await self?.scrapeMetrics() ?? []
            }
            logger.notice("serving Prometheus metrics", metadata: ["listen": "\(listen)", "path": "/metrics"])
            return server
        } catch {
            throw MetricsServerError(listen: "\(listen)", underlying: "\(error)")
        }
    }

    /// One scrape: the series read now, rendered with the events recorded since the start.
    func scrapeMetrics() -> [UInt8] {
        metrics.update(metricsSnapshot())
        return metrics.render()
    }

    /// What the scrape-time series show (the same sources as `meshctl status`, `peers`, `routes`).
    func metricsSnapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        for member in node?.members.all ?? [] where member.id != node?.id { snapshot.membersByState[member.status.description, default: 0] += 1 }
        snapshot.drops = dropCounts()
        snapshot.certificateExpiry = enrollment.map { Double($0.certificate.notAfter) }
        let own = enrollment?.certificate.name
        snapshot.peers = peers().filter { $0.name != own && ["alive", "suspect"].contains($0.state) }.map { peer in
            MetricsSnapshot.Peer(
                name: peer.name, path: peer.path, handshakeAgeSeconds: peer.lastHandshakeSeconds, receivedBytes: peer.rxBytes,
                transmittedBytes: peer.txBytes, roundTripSeconds: peer.rttMilliseconds.map { $0 / 1000 })
        }
        let gossip = transport.counters
        snapshot.gossipReceivedDatagrams = gossip.receivedDatagrams.load(ordering: .relaxed)
        snapshot.gossipReceivedBytes = gossip.receivedBytes.load(ordering: .relaxed)
        snapshot.gossipSentDatagrams = gossip.sentDatagrams.load(ordering: .relaxed)
        snapshot.gossipSentBytes = gossip.sentBytes.load(ordering: .relaxed)
        if let relay {
            snapshot.relayAllocations = relay.allocationCount
            snapshot.relayAllocationsGranted = relay.counters.allocations.load(ordering: .relaxed)
            snapshot.relayForwardedPackets = relay.counters.forwardedPackets.load(ordering: .relaxed)
            snapshot.relayForwardedBytes = relay.counters.forwardedBytes.load(ordering: .relaxed)
            snapshot.relayDropped = relay.counters.dropped.load(ordering: .relaxed)
            snapshot.relayRefusals = relay.counters.refusals.load(ordering: .relaxed)
        }
        snapshot.routes = routeReports().filter { $0.accepted && !$0.servedHere }.map {
            MetricsSnapshot.Route(prefix: $0.prefix, active: $0.active, gateways: $0.gateways.count)
        }
        return snapshot
    }

    /// A peer's path changed (the path core's log): counted, and a failover's duration recorded —
    /// from the first unanswered probe of the failing path to the path that replaced it.
    func recordPathChange(_ peer: NodeID, _ route: PathManager.Route, now: Timestamp) {
        let path: String
        switch route {
        case .direct: path = "direct"
        case .relayed: path = "relay"
        case .unreachable: path = "none"
        }
        var failover: Duration?
        switch route {
        case .unreachable:
            noteTrouble(peer, now: now)
        case .relayed:
            // Onto a relay: a failover whether this end asked (it noted the trouble) or the other
            // end's grant came first (the probes still say since when the path failed).
            let state = paths.peers[peer]
            if let since = failingSince.removeValue(forKey: peer) ?? state?.unansweredSince ?? state?.relayUnansweredSince {
                failover = .nanoseconds(Int64(clamping: (now - since).nanoseconds))
            }
        case .direct:
            if let since = failingSince.removeValue(forKey: peer) { failover = .nanoseconds(Int64(clamping: (now - since).nanoseconds)) }
        }
        metrics.pathChanged(to: path, failover: failover)
    }

    /// The path to `peer` failed (its probes went unanswered): a failover starts.
    func noteTrouble(_ peer: NodeID, now: Timestamp) {
        guard failingSince[peer] == nil else { return }
        if failingSince.count >= 16_384 { failingSince.removeAll() }  // keyed by members: bounded anyway
        failingSince[peer] = paths.peers[peer]?.unansweredSince ?? now
    }
}

/// The metrics endpoint cannot be served (the address is in use, or not this host's).
struct MetricsServerError: Error, CustomStringConvertible {
    var listen: String
    var underlying: String
    var description: String { "cannot serve metrics on \(listen) (metrics.listen): \(underlying)" }
}

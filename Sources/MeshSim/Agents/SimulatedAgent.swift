import MeshAgentCore
import MeshCore
import MeshCrypto

/// One host of an ``AgentWorld``: the protocol core (``MeshNode``) and the agent's path decisions
/// (``PathCore``, ``RelayDesk``, ``FirstHandshakes``, ``EndpointChoice``) — the same code meshd
/// runs — with a ``WireGuardModel`` for its device and, on a relay, a ``RelayModel`` for its ports.
/// What meshd's shell does between them (plan the device from the paths, read its counters, hurry
/// first handshakes, nudge tunnels) is done here the same way, on virtual time, with device calls
/// taking no time.
final class SimulatedAgent {
    let index: Int
    let node: MeshNode
    var core: PathCore
    var device: WireGuardModel
    var relay: RelayModel?
    /// Who is who: node ids and WireGuard keys by host index.
    let directory: AgentDirectory

    private var random: SeededRandomNumberGenerator
    /// Path and relay messages to send, and regrants to schedule (taken by the world).
    /// A grant to repeat after `after`, then after each of `gaps`, unless `to` switched.
    typealias Regrant = (after: Interval, gaps: ArraySlice<Interval>, grant: RelayMessage, to: NodeID, other: NodeID)
    private(set) var regrants: [Regrant] = []
    /// Path probes this host sent (its own packets on paths in use).
    private(set) var probesSent = 0
    /// Gossip datagrams to send (taken by the world).
    var gossipOutbox: [OutboundDatagram] = []
    /// Each peer's allowed IPs as last applied to the device (host index → prefixes): where
    /// WireGuard's cryptokey routing sends a packet.
    private(set) var allowedIPs: [Int: [IPPrefix]] = [:]
    /// Device plans that gave one prefix to two peers (WireGuard would silently keep the last).
    private(set) var overlappingPlans = 0
    /// Routing daemon's routes refused or ignored (meshd counts them as `daemon-route-refused`).
    private(set) var daemonRouteRefusals = 0
    /// Route changes seen (peer, route), for flap counts.
    private(set) var routeChanges: [(at: Timestamp, peer: NodeID, route: PathManager.Route, reason: String?)] = []

    /// Relay reachability checks and relay lease expiry, as meshd runs them.
    private var chores = PeriodicChores()
    private var reconcileDue: Timestamp
    private var lastObservation = Timestamp.zero
    private var pendingRecreations: [X25519PublicKey] = []
    private var pendingPunches: [NodeID] = []
    private var lastRelayAnnouncement = Timestamp.zero
    private var adoptedDevicePaths = false
    /// Where peers' WireGuard sees this host (endpoint reports), as meshd keeps them.
    private var observedEndpoints = ObservedEndpoints()

    /// An agent starting at `now`; `device` is the WireGuard device it finds (a restarted meshd
    /// finds its peers and their sessions where it left them), nil for a new one.
    init(index: Int, node: MeshNode, directory: AgentDirectory, relay: RelayModel?, device: WireGuardModel? = nil, seed: UInt64, now: Timestamp) {
        self.index = index
        self.node = node
        self.directory = directory
        self.relay = relay
        random = SeededRandomNumberGenerator(seed: seed)
        core = PathCore(ownKey: directory.wireGuardKeys[index], random: .seeded(seed ^ 0xC0DE))
        self.device = device ?? WireGuardModel(index: index, listen: directory.wireGuardEndpoint(of: index))
        reconcileDue = now
    }

    /// The earliest time after `now` this host has something to do, as meshd computes it: the
    /// protocol core's timers, WireGuard's, the path timers, the chores and device work.
    func nextDeadline(after now: Timestamp) -> Timestamp {
        let deviceWork = pendingRecreations.isEmpty && adoptedDevicePaths
            ? core.deviceWorkDeadline(
                reconcileDue: reconcileDue, lastRead: lastObservation, idleRead: AgentTiming.observationInterval(livePeers: node.members.liveCount),
                readInUse: core.paths.settings.probeInterval, now: now)
            : now
        return min(node.nextDeadline, device.nextDeadline, core.paths.nextDeadline(after: now), chores.nextDeadline, deviceWork)
    }

    private var sessions: PathCore.Sessions {
        let peers = device.peers, directory = directory
        return { key in directory.index(of: key).flatMap { peers[$0] }.map { $0.lastHandshake != nil } }
    }

    // MARK: Events

    /// Timers due at `now`: the protocol core's, WireGuard's, and what meshd runs when its timer
    /// fires (path timers, chores, device work).
    func wake(now: Timestamp) {
        if now >= node.nextDeadline { node.tick(now: now) }
        device.tick(now: now, random: &random)
        pathTick(now: now)
        reactToNode(now: now)
    }

    /// A gossip datagram arrived.
    func receiveGossip(_ bytes: [UInt8], from source: SocketEndpoint, now: Timestamp) {
        node.receive(bytes, from: source, now: now)
        reactToNode(now: now)
    }

    /// A WireGuard datagram arrived at this host's device.
    func receiveWireGuard(_ packet: WireGuardPacket, from source: SocketEndpoint, now: Timestamp) {
        device.receive(packet, from: source, now: now, random: &random)
    }

    /// Sends `payload` into the tunnel towards host `peer` (the application's traffic).
    func sendThroughTunnel(_ payload: WireGuardPacket.Payload, to peer: Int, now: Timestamp) {
        device.send(payload, to: peer, now: now, random: &random)
    }

    private func pathTick(now: Timestamp) {
        if !adoptedDevicePaths {
            // meshd's first device read after its start (it finds the device as it left it).
            adoptedDevicePaths = true
            var peers: [X25519PublicKey: DevicePeerView] = [:]
            for (peer, state) in device.peers { peers[directory.wireGuardKeys[peer]] = DevicePeerView(state) }
            apply(core.adoptRelayedPaths(peers, node: node, sessions: sessions, now: now), now: now)
        }
        for chore in chores.takeDue(now: now) {
            switch chore {
            case .relayReachability: announceRelays(now: now)
            case .relayExpiry: relay?.expire(now: now)
            case .heapTrim: break
            }
        }
        apply(core.tick(node: node, sessions: sessions, now: now), now: now)
        deviceTurn(now: now)
    }

    /// What meshd's device loop does in one turn, when due.
    private func deviceTurn(now: Timestamp) {
        if !pendingRecreations.isEmpty {
            for key in pendingRecreations { if let peer = directory.index(of: key) { device.remove(peer) } }
            pendingRecreations = []
            reconcileDue = now
        }
        if now >= reconcileDue {
            if core.readsDeviceBeforePlanning(lastRead: lastObservation, now: now) { observe(now: now) }
            if now >= reconcileDue { plan(now: now) }
            let punches = pendingPunches
            pendingPunches = []
            for key in core.punchTargets(punches, node: node, sessions: sessions) {
                if let peer = directory.index(of: key) { device.send(.nudge, to: peer, now: now, random: &random) }
            }
        }
        hurryFirstHandshakes(now: now)
        if now - lastObservation >= core.paths.settings.probeInterval, core.paths.wantsReceiveCounters(now: now) { observe(now: now) }
        if now - lastObservation >= AgentTiming.observationInterval(livePeers: node.members.liveCount) { observe(now: now) }
    }

    /// Makes the device's peers match the path core's plan (meshd's reconcile), applying only
    /// differences as meshd's device layer does: a peer is configured when new, when the plan
    /// names a new endpoint, or when its keepalive changes.
    private func plan(now: Timestamp) {
        reconcileDue = now + AgentTiming.reconcileInterval
        let plan = core.planDevice(node: node, host: host, device: devicePeer, now: now)
        var wanted = Set<Int>()
        var added: [(key: X25519PublicKey, hasEndpoint: Bool)] = [], moved: [X25519PublicKey] = []
        for planned in plan.peers {
            guard let peer = directory.index(of: planned.member) else { continue }
            wanted.insert(peer)
            let keepalive = Interval.seconds(Double(planned.persistentKeepalive))
            let before = device.peers[peer]
            let endpointMoved = planned.endpoint != nil && planned.endpoint != before?.endpoint
            guard before == nil || endpointMoved || keepalive != before?.keepalive else { continue }
            device.configure(peer, endpoint: planned.endpoint, keepalive: keepalive, now: now, random: &random)
            if before == nil {
                added.append((planned.publicKey, planned.endpoint != nil))
            } else if planned.endpoint != nil {
                moved.append(planned.publicKey)
            }
        }
        for peer in device.peers.keys where !wanted.contains(peer) { device.remove(peer) }
        allowedIPs = [:]
        var holders = Set<IPPrefix>(), twice = false
        for planned in plan.peers {
            if let peer = directory.index(of: planned.member) { allowedIPs[peer] = planned.allowedIPs }
            for prefix in planned.allowedIPs where !holders.insert(prefix).inserted { twice = true }
        }
        if twice { overlappingPlans += 1 }
        daemonRouteRefusals += plan.refusedDaemonRoutes.count + plan.ignoredDaemonRoutes
        for key in core.deviceApplied(added: added, moved: moved, node: node, now: now) {
            if let peer = directory.index(of: key) { device.send(.nudge, to: peer, now: now, random: &random) }
        }
    }

    /// This host as the plan sees it: one underlay address, behind NAT when peers see it elsewhere.
    private var host: PlanningHost {
        PlanningHost(nodeID: node.id, overlayAddresses: node.certificate.addresses, localAddresses: [ownAddress], behindNAT: isBehindNAT)
    }

    /// This host's own address (``localAddressChanged(to:now:)`` changes it).
    private var ownAddress: IPAddress { announced.localAddresses.first ?? directory.wireGuardEndpoint(of: index).address }

    /// What this host announces, composed as meshd composes it (``AgentAnnouncement``): its own
    /// address, the relay offer, prefixes and served routes it was enrolled with, the relays it reaches, and —
    /// read afresh each time — the observed and reflexive endpoints.
    private lazy var announced: AgentAnnouncement = {
        var facts = AgentAnnouncement(localAddresses: [directory.wireGuardEndpoint(of: index).address], gossipPort: 51821, wireGuardPort: 51820)
        facts.prefixes = node.announcement.prefixes
        facts.offersRelay = node.announcement.offersRelay
        facts.servedRoutes = node.announcement.servedRoutes
        return facts
    }()

    /// The announcement's facts with the live ones filled in.
    private var currentAnnouncement: AgentAnnouncement {
        var facts = announced
        facts.observed = observedEndpoints.announced
        facts.reflexive = node.reflexiveEndpoint
        return facts
    }

    /// A routing daemon changed its routes through the mesh interface (meshd hears it from
    /// rtnetlink, re-reads the table and plans at once).
    func daemonRoutesChanged(to routes: [DaemonRouteChoice.Observed], now: Timestamp) {
        core.daemonRoutes.observed = routes
        reconcileDue = now
    }

    /// The host's own address changed (meshd hears it from rtnetlink): announce the new endpoints,
    /// forget what peers saw before the move, and let the path core react as meshd's does.
    func localAddressChanged(to address: IPAddress, now: Timestamp) {
        announced.localAddresses = [address]
        observedEndpoints.removeAll()
        announceEndpoints(now: now)
        apply(core.localAddressesChanged(node: node, sessions: sessions, now: now), now: now)
    }

    /// Whether peers see this host at an address not its own (meshd's rule).
    private var isBehindNAT: Bool { currentAnnouncement.behindNAT }

    /// Announces this host's endpoints as meshd does: its own, the observed ones corroborated by
    /// peers' reports, and behind NAT the reflexive address with WireGuard's port.
    private func announceEndpoints(now: Timestamp) {
        node.announce(currentAnnouncement.composed, now: now)
    }

    /// A peer's report of where its WireGuard sees this host.
    private func endpointReported(_ body: [UInt8], from sender: NodeID, now: Timestamp) {
        var reader = ByteReader(body, context: "endpoint report")
        guard let endpoint = try? reader.readEndpoint(), reader.isAtEnd,
              case .changed = observedEndpoints.report(endpoint, from: sender, now: now)
        else { return }
        updateObservedEndpoints(now: now)
    }

    /// Announces again when the corroborated observed endpoints changed (meshd's rule).
    private func updateObservedEndpoints(now: Timestamp) {
        let before = observedEndpoints.announced
        let views = device.peers.values.map(DevicePeerView.init)
        guard observedEndpoints.update(now: now, contacts: core.outsideContacts(views, subnets: [], now: now)) != before else { return }
        announceEndpoints(now: now)
    }

    /// The device's peer with WireGuard key `key`, as the path core reads it.
    private func devicePeer(_ key: X25519PublicKey) -> DevicePeerView? {
        directory.index(of: key).flatMap { device.peers[$0] }.map(DevicePeerView.init)
    }

    private func hurryFirstHandshakes(now: Timestamp) {
        guard core.firstHandshakes.anyDue(now: now) else { return }
        let recreate = core.firstHandshakes.due(now: now) { devicePeer($0)?.contact }
        guard !recreate.isEmpty else { return }
        for key in recreate { if let peer = directory.index(of: key) { device.remove(peer) } }
        plan(now: now)
    }

    /// Reads the device's counters (meshd's observe): endpoint reports go out as meshd sends them.
    private func observe(now: Timestamp) {
        lastObservation = now
        var peers: [X25519PublicKey: DevicePeerView] = [:]
        for (peer, state) in device.peers { peers[directory.wireGuardKeys[peer]] = DevicePeerView(state) }
        let observation = core.observeDevice(peers, node: node, now: now)
        for (member, endpoint) in observation.endpointReports {
            node.sendExtension(type: MessageCode.wireGuardEndpointReport.rawValue, body: PathCore.endpointReportBody(endpoint), to: member, now: now)
        }
        if observation.contradictsPath { reconcileDue = now }
        apply(observation.effects, now: now)
        updateObservedEndpoints(now: now)
        if reconcileDue <= now { plan(now: now) }
    }

    private func apply(_ effects: [PathCore.Effect], now: Timestamp) {
        for effect in effects {
            switch effect {
            case let .send(message, target):
                if case .pathProbe = message { probesSent += 1 }
                node.sendExtension(type: message.code.rawValue, body: message.body, to: target, now: now)
            case let .recreate(keys):
                pendingRecreations += keys
            case let .punchAfterReconcile(peers):
                pendingPunches += peers
            case .reconcile:
                reconcileDue = now
            case .count:
                break
            case let .log(.route(peer, route, reason)):
                routeChanges.append((now, peer, route, reason))
            case .log:
                break
            }
        }
        if reconcileDue <= now || !pendingRecreations.isEmpty { deviceTurn(now: now) }
    }

    /// The protocol core's events: members changing re-plan the device soon; path and relay
    /// messages go to the path core or, on a relay, to its desk.
    private func reactToNode(now: Timestamp) {
        while true {
            let (datagrams, events) = node.drainOutput()
            gossipOutbox += datagrams
            if events.isEmpty { break }
            for event in events {
                switch event {
                case .memberAdded, .memberUpdated:
                    reconcileDue = min(reconcileDue, now + AgentTiming.reconcileSoonDelay)
                case let .statusChanged(id, status):
                    reconcileDue = min(reconcileDue, now + AgentTiming.reconcileSoonDelay)
                    if !status.isLive {
                        observedEndpoints.forget(id)
                        apply(core.forget(id, node: node, sessions: sessions, now: now), now: now)
                        relay?.release(involving: id)
                    }
                case let .extensionMessage(sender, type, body, _):
                    if type == MessageCode.wireGuardEndpointReport.rawValue { endpointReported(body, from: sender, now: now) }
                    guard let message = RelayMessage(type: type, body: body) else { continue }
                    handle(message, from: sender, now: now)
                case let .memberMoved(id, endpoint):
                    relay?.allow(id, from: endpoint.address)
                    apply(core.memberMoved(id, node: node, sessions: sessions, now: now), now: now)
                case .reflexiveEndpoint:
                    // This host moved behind NAT, as meshd handles it: what peers saw is stale.
                    observedEndpoints.removeAll()
                    announceEndpoints(now: now)
                    apply(core.localAddressesChanged(node: node, sessions: sessions, now: now), now: now)
                default:
                    break
                }
            }
        }
    }

    private func handle(_ message: RelayMessage, from sender: NodeID, now: Timestamp) {
        if relay != nil, let address = node.lastEndpoint(of: sender)?.address { relay?.allow(sender, from: address) }
        switch message {
        case let .request(id, peer):
            serveRelayRequest(id: id, peer: peer, from: sender, now: now)
        case let .refresh(peer):
            guard relay != nil else { return }
            guard let ports = relay?.renew(sender, peer, now: now) else {
                send(.refuse(id: 0, peer: peer, reason: .unknownPeer), to: sender, now: now)
                return
            }
            if relay?.hasLatched(peer, with: sender) == false {
                send(.grant(id: 0, peer: sender, port: ports[peer] ?? 0, lease: 30), to: peer, now: now)
            }
        case let .release(peer):
            // The other end is told at once (it may have missed the releasing end's own notice).
            if relay?.release(sender, peer) == true { send(RelayDesk.released(by: sender), to: peer, now: now) }
        case .pathProbe, .pathAck, .grant, .refuse, .directRestored:
            apply(core.received(message, from: sender, node: node, sessions: sessions, now: now), now: now)
        }
    }

    private func serveRelayRequest(id: UInt32, peer: NodeID, from requester: NodeID, now: Timestamp) {
        guard relay != nil else {
            send(.refuse(id: id, peer: peer, reason: .notARelay), to: requester, now: now)
            return
        }
        switch RelayDesk.decide(peer: peer, requester: requester, node: node) {
        case let .refuse(reason, _):
            send(.refuse(id: id, peer: peer, reason: reason), to: requester, now: now)
        case let .allocate(requesterAddress, peerAddress, expected):
            guard let granted = relay?.allocate(
                requester: requester, requesterAddress: requesterAddress, peer: peer, peerAddress: peerAddress, expected: expected, now: now)
            else {
                send(.refuse(id: id, peer: peer, reason: .full), to: requester, now: now)
                return
            }
            let lease = relay?.lease ?? .seconds(30)
            let grants = RelayDesk.grants(id: id, requester: requester, peer: peer, ports: granted.ports, lease: lease)
            send(grants.requester, to: requester, now: now)
            send(grants.peer, to: peer, now: now)
            if granted.created, let first = RelayDesk.grantRepeatGaps.first {
                regrants.append((first, RelayDesk.grantRepeatGaps.dropFirst(), grants.peer, peer, requester))
            }
        }
    }

    /// A scheduled grant repeat is due: sent unless the member switched (or the pair is gone);
    /// returns whether the next one should be scheduled.
    func regrant(_ grant: RelayMessage, to member: NodeID, other: NodeID, now: Timestamp) -> Bool {
        guard let relay, relay.holds(member, other), !relay.hasLatched(member, with: other) else { return false }
        send(grant, to: member, now: now)
        return true
    }

    func takeRegrants() -> [Regrant] {
        defer { regrants = [] }
        return regrants
    }

    private func send(_ message: RelayMessage, to target: NodeID, now: Timestamp) {
        node.sendExtension(type: message.code.rawValue, body: message.body, to: target, now: now)
    }

    /// Announces the relays this host reaches when meshd would (``PathCore/shouldAnnounceRelays(_:announced:sinceLastAnnouncement:)``).
    private func announceRelays(now: Timestamp) {
        let relays = PathCore.reachableRelays(node)
        guard PathCore.shouldAnnounceRelays(relays, announced: announced.relays, sinceLastAnnouncement: now - lastRelayAnnouncement) else { return }
        lastRelayAnnouncement = now
        announced.relays = relays
        announceEndpoints(now: now)
    }
}

/// Host indices, node ids, WireGuard keys and endpoints of an ``AgentWorld``.
struct AgentDirectory {
    let nodeIDs: [NodeID]
    let wireGuardKeys: [X25519PublicKey]
    private let byNodeID: [NodeID: Int]
    private let byKey: [X25519PublicKey: Int]

    init(cluster: Cluster) {
        nodeIDs = cluster.certificates.map(\.nodeID)
        wireGuardKeys = cluster.certificates.map(\.wireGuardKey)
        byNodeID = Dictionary(uniqueKeysWithValues: nodeIDs.enumerated().map { ($1, $0) })
        byKey = Dictionary(wireGuardKeys.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func index(of node: NodeID) -> Int? { byNodeID[node] }
    func index(of key: X25519PublicKey) -> Int? { byKey[key] }
    func wireGuardEndpoint(of index: Int) -> SocketEndpoint {
        SocketEndpoint(address: Cluster.endpoint(of: index).address, port: 51820)
    }
}

extension Interval {
    /// The same span as `duration` (nanosecond precision).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(nanoseconds: UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000))
    }
}

extension DevicePeerView {
    /// The path core's view of a modelled WireGuard peer.
    init(_ peer: WireGuardModel.Peer) {
        self.init(endpoint: peer.endpoint, lastHandshake: peer.lastHandshake, receivedBytes: peer.receivedBytes, transmittedBytes: peer.transmittedBytes)
    }
}

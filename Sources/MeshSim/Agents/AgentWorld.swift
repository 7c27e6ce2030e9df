import HeapModule
import MeshAgentCore
import MeshCore

/// Whole agents on virtual time: every host runs the protocol core and the agent's path decisions
/// (``SimulatedAgent``) over a simulated underlay with WireGuard (``WireGuardModel``) and relays
/// (``RelayModel``); links can be cut, made lossy and healed, hosts crashed. Applications send
/// pings through the tunnels, and the world records when replies come back. One thread; the same
/// seed gives the same run.
public final class AgentWorld {
    /// A datagram on the underlay.
    enum Underlay {
        case gossip([UInt8])
        case wireGuard(WireGuardPacket)
    }

    private struct Event: Comparable {
        let time: Timestamp
        let order: UInt64
        let kind: Kind
        enum Kind {
            case wake(Int)
            /// To host `host`, at `to` (its own address, or its NAT's outside address).
            case deliver(host: Int, to: SocketEndpoint, from: SocketEndpoint, Underlay)
            case regrant(host: Int, grant: RelayMessage, to: NodeID, other: NodeID, gaps: ArraySlice<Interval>)
            case ping(Flow)
            case sitePing(Int)
        }
        static func < (lhs: Event, rhs: Event) -> Bool { lhs.time != rhs.time ? lhs.time < rhs.time : lhs.order < rhs.order }
        static func == (lhs: Event, rhs: Event) -> Bool { lhs.time == rhs.time && lhs.order == rhs.order }
    }

    /// A stream of pings from one host to another through the tunnel.
    public struct Flow: Hashable, Sendable {
        public let from: Int, to: Int
        public init(from: Int, to: Int) { (self.from, self.to) = (from, to) }
    }

    public let cluster: Cluster
    public private(set) var now: Timestamp
    /// One-way delay of every link, plus up to `jitter`.
    public var latency = Interval.milliseconds(10)
    public var jitter = Interval.milliseconds(5)
    /// Probability that a datagram is lost, on every link.
    public var loss = 0.0
    /// Loss on one link (between two hosts, both ways) on top of ``loss``.
    private var linkLoss: [[Int]: Double] = [:]

    private var agents: [SimulatedAgent?]
    private let agreement: SimulatedKeyAgreement
    private let directory: AgentDirectory
    private var queue = Heap<Event>()
    private var order: UInt64 = 0
    private var scheduledWake: [Timestamp]
    private var random: SeededRandomNumberGenerator
    private var blocked = Set<[Int]>()
    /// The NAT in front of each host, if any.
    private var nats: [Int: NATModel] = [:]
    /// Hosts that changed their own address (``renumber(_:)``), and the address they have now.
    private var renumbered: [Int: IPAddress] = [:]
    private var flows: [Flow: (interval: Interval, sequence: UInt32)] = [:]
    /// Pings into a routed prefix, per pinging host (``startPinging(site:from:every:)``).
    private var siteFlows: [Int: (prefix: IPPrefix, interval: Interval, sequence: UInt32)] = [:]
    /// Crashed hosts' agents as they were (``revive(_:)``).
    private var crashed: [Int: SimulatedAgent] = [:]
    /// Pong arrival times per flow.
    public private(set) var replies: [Flow: [Timestamp]] = [:]
    /// Sees every WireGuard datagram delivered (time, what), when set: for tracing a seed.
    public var traceWireGuard: ((Timestamp, String) -> Void)?
    /// Total datagrams on the underlay that were meshd's own (gossip, probes) per host.
    public private(set) var gossipDatagrams: [Int] = []

    /// Builds the world: `relays` are the hosts with the relay role offering to relay (the
    /// cluster gives the role to every 50th host), the others start without a relay; `served`:
    /// the routes gateways serve from the start (inside their certificates' grants).
    public init(cluster: Cluster, relays: Set<Int>, seed: UInt64, served: [Int: [ServedRoute]] = [:]) throws {
        self.cluster = cluster
        now = cluster.start
        directory = AgentDirectory(cluster: cluster)
        random = SeededRandomNumberGenerator(seed: seed)
        let count = cluster.identities.count
        scheduledWake = Array(repeating: .distantFuture, count: count)
        gossipDatagrams = Array(repeating: 0, count: count)
        agents = Array(repeating: nil, count: count)
        agreement = SimulatedKeyAgreement(identities: cluster.certificates.map(\.identityKey))
        // Every host starts with the others' records as enrolled, and relays with their flag.
        var members = cluster.snapshot
        var announcements: [LocalAnnouncement] = []
        for index in 0..<count {
            var announcement = cluster.announcement(of: index)
            announcement.offersRelay = relays.contains(index) && cluster.certificates[index].roles.contains(.relay)
            announcement.servedRoutes = served[index] ?? []
            announcements.append(announcement)
        }
        var records: [NodeRecord] = []
        for index in 0..<count {
            let record = try NodeRecord(
                nodeID: cluster.certificates[index].nodeID, version: 2, certificateDigest: cluster.certificates[index].digest,
                flags: announcements[index].offersRelay ? [.relay] : [], gossipEndpoints: announcements[index].gossipEndpoints,
                wireGuardEndpoints: announcements[index].wireGuardEndpoints, announcedPrefixes: announcements[index].prefixes,
                relays: [], servedRoutes: announcements[index].servedRoutes, signedAt: cluster.start.seconds, signer: cluster.identities[index])
            records.append(record)
            members.put(Member(certificate: cluster.certificates[index], record: record, status: .alive, statusChangedAt: cluster.start))
        }
        for index in 0..<count {
            let node = try MeshNode(
                identity: cluster.identities[index], certificate: cluster.certificates[index], settings: cluster.settings,
                announcement: announcements[index], members: members, previousVersion: 0, resume: records[index], newcomer: false,
                agreement: agreement, random: .seeded(random.next()), now: now)
            let relay = announcements[index].offersRelay ? RelayModel(address: Cluster.endpoint(of: index).address) : nil
            agents[index] = SimulatedAgent(index: index, node: node, directory: directory, relay: relay, seed: random.next(), now: now)
            schedule(index)
        }
    }

    // MARK: Faults and traffic

    /// Cuts (or restores) the underlay between hosts `a` and `b`: gossip and WireGuard alike.
    public func setBlocked(_ a: Int, _ b: Int, _ isBlocked: Bool) {
        if isBlocked { blocked.insert([min(a, b), max(a, b)]) } else { blocked.remove([min(a, b), max(a, b)]) }
    }

    /// Makes the link between hosts `a` and `b` lose `loss` of the datagrams each way (gossip and
    /// WireGuard alike), on top of ``loss``; 0 makes it clean again.
    public func setLoss(_ a: Int, _ b: Int, _ loss: Double) {
        linkLoss[[min(a, b), max(a, b)]] = loss > 0 ? loss : nil
    }

    /// Puts host `index` behind a NAT of `kind` with its own outside address (203.0.113.x): from
    /// then on its own address is private (nobody else reaches it) and everything it sends leaves
    /// from the NAT. Call before the hosts start talking.
    public func putBehindNAT(_ index: Int, _ kind: String) throws {
        guard let kind = NATModel.Kind(rawValue: kind) else { throw AgentWorldError.unknownNAT(kind) }
        nats[index] = NATModel(kind: kind, publicAddress: Self.natAddress(of: index, network: 0))
    }

    /// Host `index`, behind a NAT, roams: it is now behind a NAT of the same kind on another
    /// network (another outside address, no mappings), as a laptop moving from one Wi-Fi to
    /// another, or a phone's carrier renumbering it. What peers send to its old address is lost.
    public func roam(_ index: Int) {
        guard let old = nats[index] else { return }
        let network = old.publicAddress == Self.natAddress(of: index, network: 0) ? 1 : 0
        nats[index] = NATModel(kind: old.kind, publicAddress: Self.natAddress(of: index, network: network))
    }

    /// Host `index` changes its own address (a new DHCP lease, a server moved to another network):
    /// it now has 192.0.2.x, and what is sent to its old address is lost. meshd on it sees its
    /// local addresses change (as from rtnetlink) and reacts as it does.
    public func renumber(_ index: Int) {
        let address = IPAddress.v4(IPv4Address(0xC000_0200 + UInt32(index) + 1))
        renumbered[index] = address
        agents[index]?.localAddressChanged(to: address, now: now)
        flush(index)
    }

    /// Host `index`'s own address now.
    func address(of index: Int) -> IPAddress { renumbered[index] ?? Cluster.endpoint(of: index).address }

    /// The outside address of host `index`'s NAT on one of two networks (203.0.113.x, 198.51.100.x).
    static func natAddress(of index: Int, network: Int) -> IPAddress {
        .v4(IPv4Address((network == 0 ? 0xCB00_7100 : 0xC633_6400) + UInt32(index) + 1))
    }

    /// The host a datagram to `address` reaches (the owner of a NAT's outside address, or the host
    /// with that address), if any.
    private func host(at address: IPAddress) -> Int? {
        guard case let .v4(v4) = address else { return nil }
        if v4.value & 0xFFFF_FF00 == 0xCB00_7100 || v4.value & 0xFFFF_FF00 == 0xC633_6400 {
            let index = Int(v4.value & 0xFF) - 1
            return nats[index]?.publicAddress == address ? index : nil
        }
        if v4.value & 0xFFFF_FF00 == 0xC000_0200 {
            let index = Int(v4.value & 0xFF) - 1
            return renumbered[index] == address ? index : nil
        }
        guard v4.value & 0xFFFF_FF00 == 0x0A00_0000, let index = Cluster.index(of: SocketEndpoint(address: address, port: 51821)),
              index < agents.count, renumbered[index] == nil
        else { return nil }
        return index
    }

    /// Host `index` stops abruptly.
    public func crash(_ index: Int) {
        crashed[index] = agents[index]
        agents[index] = nil
    }

    /// Host `index`, crashed, boots again: meshd starts from what it had persisted, on a new
    /// WireGuard device (the old one died with the host).
    public func revive(_ index: Int) throws {
        guard agents[index] == nil, let old = crashed.removeValue(forKey: index) else { return }
        agents[index] = old
        try restartAgent(index, device: WireGuardModel(index: index, listen: directory.wireGuardEndpoint(of: index)))
    }

    /// Host `index` takes the routes other members serve (`routes.accept: true`), moving back to a
    /// better gateway after `holdDown`; with `exit`, it also uses exit nodes that way.
    package func acceptRoutes(_ index: Int, holdDown: Interval, exit: RouteChoice.ExitChoice = .none) {
        agents[index]?.core.routes.settings.acceptance = .all
        agents[index]?.core.routes.settings.holdDown = holdDown
        agents[index]?.core.routes.settings.exit = exit
    }

    /// A route a routing daemon on a host installs through the mesh interface: a prefix and the
    /// hosts it names as next hops, by their overlay address or (``linkLocal``) their link-local one.
    public struct DaemonRoute: Sendable {
        public var prefix: IPPrefix
        public var nextHops: [Int]
        public var linkLocal: Set<Int>
        public init(_ prefix: IPPrefix, via nextHops: [Int], linkLocal: Set<Int> = []) {
            (self.prefix, self.nextHops, self.linkLocal) = (prefix, nextHops, linkLocal)
        }
    }

    /// The routing daemon on host `index` now has `routes` in meshd's table (`routing.mode:
    /// daemon`): meshd hears of it and plans at once.
    public func setDaemonRoutes(_ index: Int, _ routes: [DaemonRoute]) {
        let certificates = cluster.certificates
        let observed = routes.map { route in
            DaemonRouteChoice.Observed(prefix: route.prefix, nextHops: route.nextHops.map {
                route.linkLocal.contains($0) ? certificates[$0].linkLocalAddress : certificates[$0].addresses[0]
            })
        }
        agents[index]?.daemonRoutesChanged(to: observed, now: now)
        flush(index)
    }

    /// The routing daemon's routes refused or ignored on host `index` so far (counted by meshd as
    /// `daemon-route-refused`).
    public func daemonRouteRefusals(of index: Int) -> Int { agents[index]?.daemonRouteRefusals ?? 0 }

    /// Device plans on host `index` that gave one prefix to two peers.
    public func overlappingPlans(of index: Int) -> Int { agents[index]?.overlappingPlans ?? 0 }

    /// The hosts whose WireGuard allowed IPs on host `index` hold exactly `prefix` now.
    public func carriers(of index: Int, for prefix: IPPrefix) -> [Int] {
        (agents[index]?.allowedIPs ?? [:]).filter { $0.value.contains(prefix) }.map(\.key).sorted()
    }

    /// The host WireGuard on host `index` sends a packet for `prefix` to: the peer whose allowed
    /// IPs hold it, or else the longest of them that covers it (cryptokey routing).
    public func carrier(of index: Int, for prefix: IPPrefix) -> Int? {
        var best: (host: Int, length: Int)?
        for (peer, allowed) in agents[index]?.allowedIPs ?? [:] {
            for candidate in allowed where candidate.contains(prefix) {
                if best == nil || candidate.length > best!.length || (candidate.length == best!.length && peer < best!.host) { best = (peer, candidate.length) }
            }
        }
        return best?.host
    }

    /// The host carrying `prefix` for host `index` now (its active gateway), if any.
    public func gateway(of index: Int, for prefix: IPPrefix) -> Int? {
        agents[index]?.core.routes.active(for: prefix).flatMap(directory.index(of:))
    }

    /// Host `from` pings an address inside `prefix` every `interval`, from now on: each ping goes
    /// through the tunnel to the peer whose allowed IPs carry the prefix on `from`'s device at that
    /// moment (cryptokey routing), which answers for the LAN behind it (replies count under
    /// ``Flow`` `from` → that peer).
    public func startPinging(site prefix: IPPrefix, from: Int, every interval: Interval) {
        siteFlows[from] = (prefix, interval, 0)
        push(now, .sitePing(from))
    }

    /// meshd on host `index` restarts (at once): a new protocol core from its persisted members,
    /// record version and replay state, and fresh path decisions, on the WireGuard device it left
    /// (peers and sessions live on; a relay's ports do not).
    public func restartAgent(_ index: Int) throws { try restartAgent(index, device: nil) }

    func restartAgent(_ index: Int, device: WireGuardModel?) throws {
        guard let old = agents[index] else { return }
        let node = try MeshNode(
            identity: cluster.identities[index], certificate: cluster.certificates[index], settings: cluster.settings,
            announcement: old.node.announcement, members: old.node.members, previousVersion: old.node.localRecord.version,
            replayState: old.node.replayState(now: now), newcomer: true, agreement: agreement, random: .seeded(random.next()), now: now)
        let relay = old.relay.map { RelayModel(address: $0.address) }
        let agent = SimulatedAgent(index: index, node: node, directory: directory, relay: relay, device: device ?? old.device, seed: random.next(), now: now)
        agent.core.routes.settings = old.core.routes.settings
        agents[index] = agent
        scheduledWake[index] = .distantFuture
        flush(index)
    }

    /// Host `from` pings host `to` through the tunnel every `interval`, from now on; `to` answers.
    public func startPinging(_ flow: Flow, every interval: Interval) {
        flows[flow] = (interval, 0)
        push(now, .ping(flow))
    }

    /// Stops a flow.
    public func stopPinging(_ flow: Flow) { flows[flow] = nil }

    /// The route host `from` has to host `to`.
    package func route(from: Int, to: Int) -> PathManager.Route? {
        agents[from]?.core.paths.route(to: directory.nodeIDs[to])
    }

    /// Route changes host `index` made (time, peer host, and the new route in words).
    public func routeChanges(of index: Int) -> [(at: Timestamp, peer: Int, route: String, reason: String?)] {
        agents[index]?.routeChanges.compactMap { change in
            directory.index(of: change.peer).map { peer in
                let route: String
                switch change.route {
                case .direct: route = "direct"
                case .unreachable: route = "unreachable"
                case let .relayed(relay, _): route = "relayed via host \(directory.index(of: relay).map(String.init) ?? "?")"
                }
                return (change.at, peer, route, change.reason)
            }
        } ?? []
    }

    /// Allocations a relay host made per pair so far.
    public func allocationsMade(by relay: Int) -> [Int] {
        agents[relay]?.relay?.allocationsMade.values.map { $0 } ?? []
    }

    /// Path probes host `index` sent so far.
    public func probesSent(by index: Int) -> Int { agents[index]?.probesSent ?? 0 }

    /// The live relay hosts holding an allocation for the pair of hosts `a` and `b`.
    public func relaysHolding(_ a: Int, _ b: Int) -> [Int] {
        agents.indices.filter { agents[$0]?.relay?.holds(directory.nodeIDs[a], directory.nodeIDs[b]) == true }
    }

    /// Whether host `index` runs meshd (it has not crashed).
    public func isRunning(_ index: Int) -> Bool { agents[index] != nil }

    /// Whether host `a` has host `b` as a live member (alive or suspected, not dead).
    public func seesLive(_ a: Int, _ b: Int) -> Bool {
        agents[a]?.node.members[directory.nodeIDs[b]]?.status.isLive == true
    }

    /// Pairs of running hosts `[a, b]` where `a` has `b` as dead (not live).
    public func runningPairsDeclaredDead() -> [[Int]] {
        let running = agents.indices.filter(isRunning)
        return running.flatMap { a in running.filter { $0 != a && !seesLive(a, $0) }.map { [a, $0] } }
    }

    /// Whether host `a` sees host `b` alive.
    public func seesAlive(_ a: Int, _ b: Int) -> Bool {
        agents[a]?.node.members[directory.nodeIDs[b]]?.status == .alive
    }

    // MARK: Running

    /// Runs events until `end`.
    public func run(until end: Timestamp) {
        while let next = queue.min, next.time <= end {
            guard let event = queue.popMin() else { break }
            now = event.time
            handle(event.kind)
        }
        now = end
    }

    private func handle(_ kind: Event.Kind) {
        switch kind {
        case let .wake(index):
            guard let agent = agents[index], scheduledWake[index] == now else { return }
            scheduledWake[index] = .distantFuture
            agent.wake(now: now)
            flush(index)
        case let .deliver(index, addressed, source, underlay):
            guard let agent = agents[index] else { return }
            var destination = addressed
            if nats[index] != nil {
                // Through the host's NAT when sent to its outside address; its own address is private.
                guard addressed.address == nats[index]?.publicAddress, let inside = nats[index]?.inbound(to: addressed.port, from: source, now: now)
                else { return }
                destination = inside
            }
            switch (underlay, destination.port) {
            case let (.gossip(bytes), 51821):
                gossipDatagrams[index] += 1
                agent.receiveGossip(bytes, from: source, now: now)
            case let (.wireGuard(packet), 51820):
                traceWireGuard?(now, "\(source) -> host \(index): \(packet)")
                agent.receiveWireGuard(packet, from: source, now: now)
            case let (.wireGuard(packet), port):
                guard let forwarded = agent.relay?.forward(to: port, from: source) else { return }
                transmit(.wireGuard(packet), from: index, source: forwarded.from, to: forwarded.to)
            default:
                return
            }
            flush(index)
        case let .regrant(host, grant, member, other, gaps):
            guard let agent = agents[host] else { return }
            if agent.regrant(grant, to: member, other: other, now: now), let gap = gaps.first {
                push(now + gap, .regrant(host: host, grant: grant, to: member, other: other, gaps: gaps.dropFirst()))
            }
            flush(host)
        case let .sitePing(from):
            guard var state = siteFlows[from], let agent = agents[from] else { return }
            state.sequence &+= 1
            siteFlows[from] = state
            if let gateway = carrier(of: from, for: state.prefix) {
                agent.sendThroughTunnel(.ping(state.sequence), to: gateway, now: now)
                flush(from)
            }
            push(now + state.interval, .sitePing(from))
        case let .ping(flow):
            guard var state = flows[flow], let agent = agents[flow.from] else { return }
            state.sequence &+= 1
            flows[flow] = state
            agent.sendThroughTunnel(.ping(state.sequence), to: flow.to, now: now)
            flush(flow.from)
            push(now + state.interval, .ping(flow))
        }
    }

    /// Sends what host `index` produced and schedules its next wake.
    private func flush(_ index: Int) {
        guard let agent = agents[index] else { return }
        let source = SocketEndpoint(address: address(of: index), port: 51821)
        for datagram in agent.gossipOutbox {
            gossipDatagrams[index] += 1
            transmit(.gossip(datagram.bytes), from: index, source: source, to: datagram.endpoint)
        }
        agent.gossipOutbox = []
        for regrant in agent.takeRegrants() {
            push(now + regrant.after, .regrant(host: index, grant: regrant.grant, to: regrant.to, other: regrant.other, gaps: regrant.gaps))
        }
        let (outbox, delivered) = agent.device.drain()
        let wireGuardSource = SocketEndpoint(address: address(of: index), port: 51820)
        for (destination, packet) in outbox { transmit(.wireGuard(packet), from: index, source: wireGuardSource, to: destination) }
        for (peer, payload) in delivered {
            switch payload {
            case let .ping(sequence):
                agent.sendThroughTunnel(.pong(sequence), to: peer, now: now)
            case .pong:
                replies[Flow(from: index, to: peer), default: []].append(now)
            case .keepalive, .nudge:
                break
            }
        }
        if !delivered.isEmpty {
            let (more, _) = agent.device.drain()
            for (destination, packet) in more { transmit(.wireGuard(packet), from: index, source: wireGuardSource, to: destination) }
        }
        schedule(index)
    }

    private func schedule(_ index: Int) {
        guard let agent = agents[index] else { return }
        let deadline = max(agent.nextDeadline(after: now), now + AgentTiming.shortestWake)
        guard deadline < scheduledWake[index] else { return }
        scheduledWake[index] = deadline
        push(deadline, .wake(index))
    }

    /// Sends a datagram from host `sender`'s `source` (leaving through its NAT, if any).
    private func transmit(_ underlay: Underlay, from sender: Int, source: SocketEndpoint, to destination: SocketEndpoint) {
        if case let .wireGuard(packet) = underlay { traceWireGuard?(now, "sent \(source) => \(destination): \(packet)") }
        guard let target = host(at: destination.address), target != sender, !blocked.contains([min(sender, target), max(sender, target)]) else { return }
        var outside = source
        if var nat = nats[sender] {
            outside = nat.outbound(from: source, to: destination, now: now)
            nats[sender] = nat
        }
        if loss > 0, Double.random(in: 0..<1, using: &random) < loss { return }
        if let lossy = linkLoss[[min(sender, target), max(sender, target)]], Double.random(in: 0..<1, using: &random) < lossy { return }
        let extra = jitter.nanoseconds == 0 ? 0 : UInt64.random(in: 0...jitter.nanoseconds, using: &random)
        push(now + latency + Interval(nanoseconds: extra), .deliver(host: target, to: destination, from: outside, underlay))
    }

    private func push(_ time: Timestamp, _ kind: Event.Kind) {
        order += 1
        queue.insert(Event(time: time, order: order, kind: kind))
    }
}

/// A world that cannot be built as asked.
public enum AgentWorldError: Error, CustomStringConvertible {
    case unknownNAT(String)

    public var description: String {
        switch self {
        case let .unknownNAT(kind): "no NAT of kind \(kind) (\(NATModel.Kind.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}

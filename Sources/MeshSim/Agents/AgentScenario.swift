import MeshCore

/// Scenarios of whole agents (``AgentWorld``), each measured from outside the way the lab measures
/// meshd: an application pings through the tunnel and the replies' timing is what counts.
/// Replayable by seed.
public enum AgentScenario: String, CaseIterable, Sendable {
    /// Relay 0, hosts 1 and 2 whose direct path is blocked from the start; 1 pings 2 every 100 ms.
    case relayedStart = "relayed-start"
    /// Hosts 1 and 2 ping each other direct (20 pings/s); the direct path is cut after 35 s.
    case cutMidStream = "cut"
    /// As ``cutMidStream``, then the direct path comes back at 60 s (run until 80 s).
    case heal
    /// Relays 0 and 2; hosts 1 and 3 blocked from the start; the relay in use dies at 20 s.
    case relayDies = "relay-dies"
    /// Four hosts, one a relay, 30 % random loss on every link; 1 and 2 ping every 100 ms for 60 s.
    case lossy
    /// Relay 0, hosts 1 and 2; 1 pings 2 every 100 ms; after 10 s the direct link between 1 and 2
    /// (only it) loses 50 % each way for 60 s: the pair should move to the clean relay, once, and stay.
    case lossyDirect = "lossy-direct"
    /// Hosts 1 and 2 ping each other direct (20 pings/s); meshd on host 2 restarts at 20 s.
    case restart
    /// As ``restart``, on a pair relayed from the start.
    case restartRelayed = "restart-relayed"
    /// Relay 0 public; hosts 1 and 2 each behind an address-dependent NAT (a home router: port
    /// kept, only addresses the host sent to may answer); 1 pings 2 every 100 ms from the start.
    /// The pair can punch through, so it must end direct.
    case nat
    /// As ``nat`` behind symmetric NATs (a new port per destination): no direct path can exist,
    /// so the pair must be relayed, by one relay.
    case symmetricNAT = "symmetric-nat"
    /// Relay 0 and host 1 public, host 2 behind an address-dependent NAT; 1 pings 2 (20 pings/s,
    /// 2 only answers: the hard direction, as 2 sends nothing unasked); at 20 s host 2's NAT
    /// renumbers (another outside address, no mappings) without any change on host 2 itself.
    case roaming
    /// Relay 0 and hosts 1 and 2 public; 1 pings 2 (20 pings/s, 2 only answers); at 20 s host 2
    /// changes its own address (a new DHCP lease, no NAT): what is sent to the old one is lost
    /// until host 1 learns the new one (host 2's signed record, or its WireGuard roaming).
    case renumber
    /// As ``renumber``, on a pair relayed from the start (1–2 blocked): the relay must take host 2
    /// from its new address and forward to it.
    case renumberRelayed = "renumber-relayed"
    /// Relay 0; gateways 2 (priority 150) and 3 (100) serve a site (192.168.10.0/24); host 1 takes
    /// routes (hold-down 5 s) and pings the site every 50 ms. Host 2 crashes at 10 s (meshd and
    /// WireGuard) and boots again at 30 s: the site must move to 3 at once, and back to 2 once it
    /// has been back for the hold-down.
    case gatewayDies = "gateway-dies"
    /// As ``gatewayDies`` with exit nodes: 2 and 3 (exit role) serve the default routes, host 1
    /// uses `exit auto` and pings an address on the Internet.
    case exitDies = "exit-dies"
    /// A routing daemon on hosts 0 and 1 (`routing.mode: daemon`) routes 192.168.20.0/24 through
    /// gateways 2 and 3 (ECMP; 3 named by its link-local address), and on host 1 also a prefix
    /// outside member 4's grant through 4 and member 3's overlay address through 2; host 1 pings
    /// the prefix every 50 ms. At 10 s the daemons withdraw the next hop carrying it, at 20 s
    /// restore it, at 30 s that gateway crashes without the daemons noticing.
    case daemonRoutes = "daemon-routes"

    /// What one run measured.
    public struct Result: Sendable, CustomStringConvertible {
        public let scenario: AgentScenario
        public let seed: UInt64
        /// From the start of pinging (or the fault) to the first reply after it.
        public var firstReply: Interval?
        /// The longest time without a reply after the fault (or from the start).
        public var longestGap = Interval.zero
        /// Route changes of the pinging pair, per end.
        public var routeChanges: [Int] = []
        /// From the start of pinging (or the fault) to the pair's first route change (either end).
        public var firstRouteChange: Interval?
        /// The pair's route changes after the start (or the fault), one line each: when, which
        /// end, the new route and why.
        public var routeLog: [String] = []
        /// Allocations the relays made for the pair.
        public var allocations = 0
        /// Replies received, and pings sent.
        public var replies = 0
        public var pings = 0
        /// Whether the pair ended on the direct path.
        public var endedDirect = false
        /// Whether the two ends' path states agree at the end (both direct, or both through one relay).
        public var endsAgree = true
        /// Relays holding an allocation for the pair at the end.
        public var relaysHolding = 0
        /// Pairs of running hosts where one has declared the other dead at the end (a move, a
        /// restart or loss must not make a running member dead; under loss, suspected is normal).
        public var declaredDead: [[Int]] = []
        /// Path probes per second from each end while two-way traffic flowed on a working path
        /// (``cutMidStream`` and ``heal``, before the cut; nil elsewhere).
        public var probesPerSecond: [Double]?
        /// The share of pings answered in the last part of the run (``lossyDirect``; nil elsewhere).
        public var lateDelivery: Double?
        /// From the failed gateway's return to the prefix moving back to it (``gatewayDies``,
        /// ``exitDies``; nil elsewhere, or when it never moved back).
        public var movedBack: Interval?
        /// The longest time without a reply while the prefix moved back.
        public var moveBackGap: Interval?
        /// The gateway host carrying the prefix at the end.
        public var gatewayAtEnd: Int?
        /// ``daemonRoutes``: per fault, how long until the prefix was in the expected peer's
        /// allowed IPs (nil: never).
        public var prefixMoves: [(fault: String, after: Interval?)] = []
        /// ``daemonRoutes``: device plans that put one prefix in two peers' allowed IPs.
        public var overlappingPlans = 0
        /// ``daemonRoutes``: refused routes that were ever in a peer's allowed IPs.
        public var refusedCarried: [String] = []
        /// ``daemonRoutes``: routes counted as refused on the host whose daemon sent them.
        public var refusals = 0
        /// ``daemonRoutes``: whether the two daemon hosts ever gave the ECMP prefix to different
        /// next hops while both routes named the same ones (sampled every 50 ms, moves aside).
        public var hostsDisagreed = false

        public var description: String {
            let first = firstReply.map { String(format: "%.3f s", $0.seconds) } ?? "none"
            return "\(scenario.rawValue) seed \(seed): first reply \(first), longest gap \(String(format: "%.3f s", longestGap.seconds)), "
                + "route changes \(routeChanges), allocations \(allocations) (held by \(relaysHolding) at the end), replies \(replies)/\(pings), "
                + "ended direct \(endedDirect)" + (firstRouteChange.map { String(format: ", first route change after %.3f s", $0.seconds) } ?? "")
                + (probesPerSecond.map { ", probes/s while flowing \($0)" } ?? "")
                + (lateDelivery.map { ", answered at the end \(Int(($0 * 100).rounded())) %" } ?? "")
                + (movedBack.map { String(format: ", moved back after %.3f s", $0.seconds) } ?? "")
                + (moveBackGap.map { String(format: " (longest gap then %.3f s)", $0.seconds) } ?? "")
                + (prefixMoves.isEmpty ? "" : ", prefix moved: " + prefixMoves.map { move in
                    "\(move.fault) " + (move.after.map { String(format: "%.3f s", $0.seconds) } ?? "never") }.joined(separator: ", ")
                    + ", refused \(refusals)" + (overlappingPlans > 0 ? ", \(overlappingPlans) plans with a prefix twice" : ""))
        }
    }

    /// Runs the scenario with `seed`; `latency` is every link's one-way delay (10 ms: one LAN or
    /// city; 150 ms puts every host on another continent); `trace`, when given, sees every WireGuard
    /// datagram (time since the start, and what).
    public func run(seed: UInt64, latency: Interval = .milliseconds(10), trace: ((Interval, String) -> Void)? = nil) throws -> Result {
        var result = Result(scenario: self, seed: seed)
        func world(hosts: Int, relays: Set<Int>, relayEvery: Int = 50) throws -> AgentWorld {
            let world = try AgentWorld(cluster: Cluster(count: hosts, seed: seed, relayEvery: relayEvery), relays: relays, seed: seed)
            world.latency = latency
            if let trace {
                let start = world.now
                world.traceWireGuard = { time, line in trace(time - start, line) }
            }
            return world
        }
        switch self {
        case .relayedStart:
            let world = try world(hosts: 3, relays: [0])
            world.setBlocked(1, 2, true)
            let start = world.now
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(100))
            world.run(until: start + .seconds(20))
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: start, interval: .milliseconds(100))
        case .cutMidStream, .heal:
            let world = try world(hosts: 3, relays: [0])
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(50))
            let start = world.now
            world.run(until: start + .seconds(5))
            let probesBefore = [world.probesSent(by: 1), world.probesSent(by: 2)]
            world.run(until: start + .seconds(35))
            let probesDuring = [world.probesSent(by: 1) - probesBefore[0], world.probesSent(by: 2) - probesBefore[1]]
            world.setBlocked(1, 2, true)
            let cut = world.now
            if self == .heal {
                world.run(until: start + .seconds(60))
                world.setBlocked(1, 2, false)
                world.run(until: start + .seconds(80))
            } else {
                world.run(until: start + .seconds(60))
            }
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: cut, interval: .milliseconds(50))
            result.probesPerSecond = probesDuring.map { Double($0) / 30 }
        case .relayDies:
            let world = try world(hosts: 4, relays: [0, 2], relayEvery: 2)
            world.setBlocked(1, 3, true)
            let flow = AgentWorld.Flow(from: 1, to: 3)
            world.startPinging(flow, every: .milliseconds(50))
            let start = world.now
            world.run(until: start + .seconds(20))
            guard case let .relayed(relay, _)? = world.route(from: 1, to: 3), let dying = [0, 2].first(where: {
                world.cluster.certificates[$0].nodeID == relay
            }) else {
                measure(&result, world, flow: flow, pair: (1, 3), relays: [0, 2], from: start, interval: .milliseconds(50))
                result.firstReply = nil  // never relayed: the scenario did not happen
                return result
            }
            world.crash(dying)
            let crash = world.now
            world.run(until: start + .seconds(45))
            measure(&result, world, flow: flow, pair: (1, 3), relays: [0, 2].filter { $0 != dying }, from: crash, interval: .milliseconds(50))
        case .restart, .restartRelayed:
            let world = try world(hosts: 3, relays: [0])
            if self == .restartRelayed { world.setBlocked(1, 2, true) }
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(50))
            let start = world.now
            world.run(until: start + .seconds(20))
            try world.restartAgent(2)
            let restart = world.now
            world.run(until: start + .seconds(50))
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: restart, interval: .milliseconds(50))
        case .nat, .symmetricNAT:
            let world = try world(hosts: 3, relays: [0])
            let kind = self == .nat ? "address-dependent" : "symmetric"
            try world.putBehindNAT(1, kind)
            try world.putBehindNAT(2, kind)
            let start = world.now
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(100))
            world.run(until: start + .seconds(30))
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: start, interval: .milliseconds(100))
        case .roaming, .renumber, .renumberRelayed:
            let world = try world(hosts: 3, relays: [0])
            if self == .roaming { try world.putBehindNAT(2, "address-dependent") }
            if self == .renumberRelayed { world.setBlocked(1, 2, true) }
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(50))
            let start = world.now
            world.run(until: start + .seconds(20))
            if self == .roaming { world.roam(2) } else { world.renumber(2) }
            let moved = world.now
            world.run(until: start + .seconds(50))
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: moved, interval: .milliseconds(50))
        case .lossy:
            let world = try world(hosts: 4, relays: [0])
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(100))
            let start = world.now
            world.run(until: start + .seconds(10))
            world.loss = 0.3
            let lossStart = world.now
            world.run(until: start + .seconds(70))
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: lossStart, interval: .milliseconds(100))
        case .lossyDirect:
            let world = try world(hosts: 3, relays: [0])
            let flow = AgentWorld.Flow(from: 1, to: 2)
            world.startPinging(flow, every: .milliseconds(100))
            let start = world.now
            world.run(until: start + .seconds(10))
            world.setLoss(1, 2, 0.5)
            let lossStart = world.now
            world.run(until: start + .seconds(70))
            measure(&result, world, flow: flow, pair: (1, 2), relays: [0], from: lossStart, interval: .milliseconds(100))
            // The share of pings answered once the pair had time to weigh the relay (from 15 s on).
            let settled = lossStart + .seconds(15)
            let late = (world.replies[flow] ?? []).filter { $0 >= settled }.count
            result.lateDelivery = Double(late) / Double(max(1, Int((world.now - settled).nanoseconds / Interval.milliseconds(100).nanoseconds)))
        case .gatewayDies, .exitDies:
            try runGatewayFailover(&result, seed: seed, latency: latency)
        case .daemonRoutes:
            try runDaemonRoutes(&result, seed: seed, latency: latency)
        }
        return result
    }

    /// ``gatewayDies`` and ``exitDies``.
    private func runGatewayFailover(_ result: inout Result, seed: UInt64, latency: Interval) throws {
        let exit = self == .exitDies
        let prefix = exit ? IPPrefix.defaultIPv4 : IPPrefix("192.168.10.0/24")!
        let grants: [Int: (routes: [IPPrefix], roles: NodeRoles)] = exit ? [2: ([], [.exit]), 3: ([], [.exit])] : [2: ([prefix], []), 3: ([prefix], [])]
        let served = exit
            ? [2: IPPrefix.defaultRoutes.map { ServedRoute(prefix: $0, priority: 150) }, 3: IPPrefix.defaultRoutes.map { ServedRoute(prefix: $0, priority: 100) }]
            : [2: [ServedRoute(prefix: prefix, priority: 150)], 3: [ServedRoute(prefix: prefix, priority: 100)]]
        let world = try AgentWorld(cluster: Cluster(count: 4, seed: seed, grants: grants), relays: [0], seed: seed, served: served)
        world.latency = latency
        let holdDown = Interval.seconds(5)
        world.acceptRoutes(1, holdDown: holdDown, exit: exit ? .auto : .none)
        let interval = Interval.milliseconds(50)
        world.startPinging(site: prefix, from: 1, every: interval)
        let start = world.now
        world.run(until: start + .seconds(10))
        world.crash(2)
        let crash = world.now
        // The gateway host 1 sends the prefix to, sampled every ping interval (for the route log).
        var carrying = world.gateway(of: 1, for: prefix)
        func sample(until end: Timestamp) {
            while world.now < end {
                world.run(until: world.now + interval)
                let now = world.gateway(of: 1, for: prefix)
                if now != carrying {
                    result.routeLog.append(String(format: "%8.3f s host 1: %@ → %@", (world.now - crash).seconds,
                        carrying.map { "gateway \($0)" } ?? "none", now.map { "gateway \($0)" } ?? "none"))
                    carrying = now
                }
            }
        }
        sample(until: start + .seconds(30))
        try world.revive(2)
        let revived = world.now
        result.routeLog.append(String(format: "%8.3f s host 2 boots again", (revived - crash).seconds))
        while world.now < start + .seconds(50) {
            sample(until: world.now + interval)
            if result.movedBack == nil, world.gateway(of: 1, for: prefix) == 2 { result.movedBack = world.now - revived }
        }
        let replies = ((world.replies[AgentWorld.Flow(from: 1, to: 2)] ?? []) + (world.replies[AgentWorld.Flow(from: 1, to: 3)] ?? [])).sorted()
        func longestGap(from: Timestamp, to end: Timestamp) -> Interval {
            var previous = from, longest = Interval.zero
            for reply in replies where reply >= from && reply <= end {
                if reply - previous > longest, reply - previous > .seconds(1) {
                    result.routeLog.append(String(format: "%8.3f s no reply for %.3f s", (previous - crash).seconds, (reply - previous).seconds))
                }
                longest = max(longest, reply - previous)
                previous = reply
            }
            return max(longest, end - previous)
        }
        result.firstReply = replies.first { $0 >= crash }.map { $0 - crash }
        result.longestGap = longestGap(from: crash, to: world.now)
        if let back = result.movedBack { result.moveBackGap = longestGap(from: revived + back - .seconds(1), to: min(world.now, revived + back + .seconds(2))) }
        result.replies = replies.filter { $0 >= crash }.count
        result.pings = Int((world.now - crash).nanoseconds / interval.nanoseconds)
        result.gatewayAtEnd = world.gateway(of: 1, for: prefix)
        result.endedDirect = world.route(from: 1, to: 2) == .direct
        result.declaredDead = world.runningPairsDeclaredDead()
    }

    /// The longest time without a reply in `replies` (sorted) between `from` and `end`.
    static func longestGap(in replies: [Timestamp], from: Timestamp, until end: Timestamp) -> Interval {
        var previous = from, longest = Interval.zero
        for reply in replies where reply >= from && reply <= end {
            longest = max(longest, reply - previous)
            previous = reply
        }
        return max(longest, end - previous)
    }

    private func measure(
        _ result: inout Result, _ world: AgentWorld, flow: AgentWorld.Flow, pair: (Int, Int), relays: [Int], from: Timestamp, interval: Interval
    ) {
        let replies = world.replies[flow] ?? []
        let after = replies.filter { $0 >= from }
        result.firstReply = after.first.map { $0 - from }
        result.longestGap = Self.longestGap(in: after, from: from, until: world.now)
        result.replies = after.count
        result.pings = Int((world.now - from).nanoseconds / interval.nanoseconds)
        result.routeChanges = [
            world.routeChanges(of: pair.0).filter { $0.peer == pair.1 && $0.at >= from }.count,
            world.routeChanges(of: pair.1).filter { $0.peer == pair.0 && $0.at >= from }.count,
        ]
        let changes = world.routeChanges(of: pair.0).filter { $0.peer == pair.1 } + world.routeChanges(of: pair.1).filter { $0.peer == pair.0 }
        result.firstRouteChange = changes.map(\.at).filter { $0 >= from }.min().map { $0 - from }
        result.routeLog = [pair.0, pair.1].flatMap { end in
            world.routeChanges(of: end).filter { $0.peer == (end == pair.0 ? pair.1 : pair.0) && $0.at >= from }.map { change in
                (change.at, String(format: "%8.3f s host %d: %@", (change.at - from).seconds, end, change.route) + (change.reason.map { " (\($0))" } ?? ""))
            }
        }.sorted { $0.0 < $1.0 }.map(\.1)
        result.allocations = relays.reduce(0) { $0 + world.allocationsMade(by: $1).reduce(0, +) }
        result.endedDirect = world.route(from: pair.0, to: pair.1) == .direct
        let routes = [world.route(from: pair.0, to: pair.1), world.route(from: pair.1, to: pair.0)]
        if case let .relayed(first, _)? = routes[0], case let .relayed(second, _)? = routes[1] {
            result.endsAgree = first == second
        } else {
            result.endsAgree = routes[0] == .direct && routes[1] == .direct
        }
        result.relaysHolding = world.relaysHolding(pair.0, pair.1).count
        result.declaredDead = world.runningPairsDeclaredDead()
    }
}

import MeshCore

/// ``AgentScenario/daemonRoutes``: a routing daemon's routes becoming WireGuard allowed IPs
/// (``DaemonRouteChoice``), measured by where host 1's WireGuard sends packets for the prefix.
extension AgentScenario {
    func runDaemonRoutes(_ result: inout Result, seed: UInt64, latency: Interval) throws {
        let lan = IPPrefix("192.168.20.0/24")!
        let outsideGrant = IPPrefix("192.168.40.0/24")!
        let member3Address = IPPrefix("100.64.0.4/32")!  // host 3's overlay address (Cluster numbers from 100.64.0.1)
        let grants: [Int: (routes: [IPPrefix], roles: NodeRoles)] = [2: ([lan, member3Address], []), 3: ([lan], []), 4: ([], [])]
        let world = try AgentWorld(cluster: Cluster(count: 5, seed: seed, grants: grants), relays: [0], seed: seed)
        world.latency = latency
        let refusedRoutes = [AgentWorld.DaemonRoute(outsideGrant, via: [4]), AgentWorld.DaemonRoute(member3Address, via: [2])]
        func announce(_ nextHops: [Int]) {
            // Host 1 names 3 by its link-local address (BGP over link-local); host 0 lists the
            // next hops the other way round: the choice must not depend on either.
            world.setDaemonRoutes(1, [AgentWorld.DaemonRoute(lan, via: nextHops, linkLocal: [3])] + refusedRoutes)
            world.setDaemonRoutes(0, [AgentWorld.DaemonRoute(lan, via: nextHops.reversed())])
        }
        announce([2, 3])
        let interval = Interval.milliseconds(50)
        world.startPinging(site: lan, from: 1, every: interval)
        let start = world.now
        let step = Interval.milliseconds(10)
        var compareHosts = true
        func watch(until end: Timestamp, expecting expected: Int?, fault: String?, from faultAt: Timestamp) {
            var moved: Interval?
            while world.now < end {
                world.run(until: world.now + step)
                result.overlappingPlans = world.overlappingPlans(of: 1) + world.overlappingPlans(of: 0)
                for route in refusedRoutes where !Set(world.carriers(of: 1, for: route.prefix)).isDisjoint(with: route.nextHops) {
                    if !result.refusedCarried.contains("\(route.prefix)") { result.refusedCarried.append("\(route.prefix)") }
                }
                let carrier = world.carrier(of: 1, for: lan)
                if moved == nil, carrier != nil, carrier == expected { moved = world.now - faultAt }
                // Both daemon hosts choose alike once settled (a plan each, a few ms apart).
                if compareHosts, moved.map({ world.now - faultAt > $0 + .milliseconds(500) }) == true,
                   world.carrier(of: 0, for: lan) != carrier { result.hostsDisagreed = true }
            }
            if let fault { result.prefixMoves.append((fault, moved)) }
        }
        // Settle; both next hops are usable and the hash picks one (which depends on the seed).
        world.run(until: start + .seconds(2))
        guard let chosen = world.carrier(of: 1, for: lan), [2, 3].contains(chosen) else {
            result.prefixMoves.append(("start", nil))
            return
        }
        let partner = chosen == 2 ? 3 : 2
        watch(until: start + .seconds(10), expecting: chosen, fault: nil, from: start)
        let withdrawn = world.now
        announce([partner])
        watch(until: start + .seconds(20), expecting: partner, fault: "withdrawn", from: withdrawn)
        let restored = world.now
        announce([2, 3])
        watch(until: start + .seconds(30), expecting: chosen, fault: "restored", from: restored)
        world.crash(chosen)
        let crash = world.now
        compareHosts = false  // host 0 sends nothing to the crashed next hop: it learns only of its death
        watch(until: start + .seconds(50), expecting: partner, fault: "crashed", from: crash)

        let replies = ((world.replies[AgentWorld.Flow(from: 1, to: 2)] ?? []) + (world.replies[AgentWorld.Flow(from: 1, to: 3)] ?? [])).sorted()
        let faults = replies.filter { $0 >= withdrawn }
        result.longestGap = Self.longestGap(in: faults, from: withdrawn, until: world.now)
        result.firstReply = replies.first.map { $0 - start }
        result.replies = faults.count
        result.pings = Int((world.now - withdrawn).nanoseconds / interval.nanoseconds)
        result.gatewayAtEnd = world.carrier(of: 1, for: lan)
        result.refusals = world.daemonRouteRefusals(of: 1)
        result.declaredDead = world.runningPairsDeclaredDead()
        result.routeLog = ["ECMP winner host \(chosen), partner host \(partner)"]
    }
}

@testable import MeshAgentCore
import MeshCore
import MeshCrypto
import MeshSim
import Testing

/// The device plan meshd and the simulator share (``PathCore/planDevice(node:host:device:now:)``,
/// ``PathCore/deviceApplied(added:moved:node:now:)``, ``PathCore/observeDevice(_:node:now:)``).
@Suite struct DevicePlanTests {
    let cluster: Cluster
    let now: Timestamp

    init() throws {
        cluster = try Cluster(count: 4, seed: 5, grants: [2: ([IPPrefix("10.9.0.0/16")!], [.exit]), 3: ([IPPrefix("10.9.0.0/16")!], [.exit])])
        now = cluster.start
    }

    /// Node 1's view of the mesh, with `members` replacing the converged ones.
    func node(with members: [Member] = []) throws -> MeshNode {
        var table = cluster.snapshot
        for member in members { table.put(member) }
        return try MeshNode(
            identity: cluster.identities[1], certificate: cluster.certificates[1], settings: cluster.settings,
            announcement: cluster.announcement(of: 1), members: table, resume: cluster.records[1], newcomer: false,
            agreement: SimulatedKeyAgreement(identities: cluster.certificates.map(\.identityKey)), random: .seeded(1), now: now)
    }

    func core() -> PathCore { PathCore(ownKey: cluster.certificates[1].wireGuardKey, random: .seeded(2)) }
    var host: PlanningHost {
        PlanningHost(nodeID: cluster.certificates[1].nodeID, overlayAddresses: cluster.certificates[1].addresses, localAddresses: [IPAddress("10.0.0.2")!])
    }
    func id(_ index: Int) -> NodeID { cluster.certificates[index].nodeID }
    func key(_ index: Int) -> X25519PublicKey { cluster.certificates[index].wireGuardKey }

    /// Member `index` with a record of its own signing (version 2).
    func member(
        _ index: Int, endpoints: [AnnouncedEndpoint]? = nil, prefixes: [IPPrefix]? = nil, flags: NodeRecord.Flags = [],
        status: MemberStatus = .alive, served: [ServedRoute] = []
    ) throws -> Member {
        let certificate = cluster.certificates[index]
        let record = try NodeRecord(
            nodeID: certificate.nodeID, version: 2, certificateDigest: certificate.digest, flags: flags,
            gossipEndpoints: cluster.records[index].gossipEndpoints, wireGuardEndpoints: endpoints ?? cluster.records[index].wireGuardEndpoints,
            announcedPrefixes: prefixes ?? cluster.records[index].announcedPrefixes, relays: [], servedRoutes: served, signedAt: now.seconds,
            signer: cluster.identities[index])
        return Member(certificate: certificate, record: record, status: status, statusChangedAt: now)
    }

    /// A gateway's endpoint inside a prefix this node routes into the mesh is never used: WireGuard's
    /// packets to it would enter the tunnel (a loop seen in the lab, when a gateway's uplink was down).
    @Test func anEndpointInsideARoutedPrefixIsNeverChosen() throws {
        var core = core()
        core.routes.settings.acceptance = .all
        let lan = AnnouncedEndpoint(.local, SocketEndpoint("192.168.10.2:51820")!)
        let uplink = AnnouncedEndpoint(.local, SocketEndpoint("198.51.100.2:51820")!)
        let gateway = try member(2, endpoints: [lan, uplink], served: [ServedRoute(prefix: IPPrefix("192.168.10.0/24")!)])
        let plan = core.planDevice(node: try node(with: [gateway]), host: host, device: { _ in nil }, now: now)
        #expect(plan.peers.first { $0.member == id(2) }?.endpoint == uplink.endpoint)
        let lanOnly = try member(2, endpoints: [lan], served: [ServedRoute(prefix: IPPrefix("192.168.10.0/24")!)])
        let none = core.planDevice(node: try node(with: [lanOnly]), host: host, device: { _ in nil }, now: now + .seconds(1))
        #expect(none.peers.first { $0.member == id(2) }?.endpoint == nil)
    }

    /// Issue 13: a member's link-local address, when it announces it, is in its peer's allowed IPs
    /// as a /128; one member's record cannot carry another's (the grant), and a prefix covering
    /// another member's link-local address never reaches the device.
    @Test func aMembersLinkLocalAddressIsItsAllowedIP() throws {
        func allowed(_ plan: DevicePlan, _ index: Int) -> [IPPrefix] { plan.peers.first { $0.member == id(index) }?.allowedIPs ?? [] }
        var core = core()
        let linkLocal = IPPrefix(host: cluster.certificates[2].linkLocalAddress)
        let announcing = try member(2, prefixes: cluster.certificates[2].addresses.map(IPPrefix.init(host:)) + [linkLocal])
        let plan = core.planDevice(node: try node(with: [announcing]), host: host, device: { _ in nil }, now: now)
        #expect(allowed(plan, 2).contains(linkLocal))
        #expect(!allowed(plan, 3).contains(linkLocal))
        let silent = core.planDevice(node: try node(with: []), host: host, device: { _ in nil }, now: now + .seconds(1))
        #expect(!allowed(silent, 2).contains { $0.address.description.hasPrefix("fe80:") }, "not announced, not installed")
        let book = OverlayAddressBook([(id: id(2), addresses: cluster.certificates[2].ownedAddresses)])
        #expect(book.filter([IPPrefix("fe80::/64")!], of: id(3)).refused == [IPPrefix("fe80::/64")!])
    }

    /// Issue 13: a routing daemon's route through a member (its overlay or link-local address as
    /// next hop) becomes that member's allowed IP when inside its grant; outside the grant it is
    /// refused and reported once; over ECMP one member carries the prefix, the same whatever the
    /// order of the next hops, and the other takes it when the first dies; a route gone is
    /// withdrawn.
    @Test func aRoutingDaemonsRoutesBecomeTheirNextHopsAllowedIPs() throws {
        func allowed(_ plan: DevicePlan, _ index: Int) -> [IPPrefix] { plan.peers.first { $0.member == id(index) }?.allowedIPs ?? [] }
        let lan = IPPrefix("10.9.4.0/24")!, foreign = IPPrefix("172.16.0.0/24")!
        let overlay2 = cluster.certificates[2].addresses[0], linkLocal3 = cluster.certificates[3].linkLocalAddress
        var core = core()
        core.daemonRoutes.observed = [.init(prefix: lan, nextHops: [overlay2]), .init(prefix: foreign, nextHops: [overlay2])]
        var plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now)
        #expect(allowed(plan, 2).contains(lan) && !allowed(plan, 2).contains(foreign))
        #expect(plan.refusedDaemonRoutes.map(\.prefix) == [foreign])
        #expect(core.daemonRoutes.chosen[lan]?.reason == "next hop \(cluster.certificates[2].name)")
        plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now + .seconds(1))
        #expect(plan.refusedDaemonRoutes.isEmpty && plan.daemonRoutesChanged.isEmpty, "reported once, nothing changed")

        // ECMP through members 2 and 3 (3 by its link-local address): one of them, whatever the order.
        core.daemonRoutes.observed = [.init(prefix: lan, nextHops: [overlay2, linkLocal3])]
        plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now + .seconds(2))
        let carriers = [2, 3].filter { allowed(plan, $0).contains(lan) }
        #expect(carriers.count == 1)
        var reversed = self.core()
        reversed.daemonRoutes.observed = [.init(prefix: lan, nextHops: [linkLocal3, overlay2])]
        let other = reversed.planDevice(node: try node(), host: host, device: { _ in nil }, now: now)
        #expect([2, 3].filter { allowed(other, $0).contains(lan) } == carriers, "the same member whatever the order")
        #expect(core.daemonRoutes.chosen[lan]?.reason.hasPrefix("ECMP over") == true)
        let winner = try #require(carriers.first), loser = winner == 2 ? 3 : 2
        let dead = try member(winner, status: .dead)
        plan = core.planDevice(node: try node(with: [dead]), host: host, device: { _ in nil }, now: now + .seconds(3))
        #expect(allowed(plan, loser).contains(lan) && !allowed(plan, winner).contains(lan))

        core.daemonRoutes.observed = []
        plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now + .seconds(4))
        #expect(!allowed(plan, 2).contains(lan) && !allowed(plan, 3).contains(lan))
        #expect(plan.daemonRoutesChanged.map(\.prefix).contains(lan))
    }

    /// An ECMP next hop whose path failed is passed over while another is sound (the prefix moves
    /// before the daemon's timers notice), and used again when none is sound.
    @Test func anECMPNextHopWithoutAPathIsPassedOver() throws {
        let lan = IPPrefix("10.9.4.0/24")!
        let node = try node()
        let book = OverlayAddressBook(node.members.all.map { (id: $0.id, addresses: $0.certificate.ownedAddresses) })
        var choice = DaemonRouteChoice()
        choice.observed = [.init(prefix: lan, nextHops: [cluster.certificates[2].addresses[0], cluster.certificates[3].addresses[0]])]
        _ = choice.update(node: node, host: host, addressBook: book)
        let winner = try #require(choice.chosen[lan]?.member)
        let partner = winner == id(2) ? id(3) : id(2)
        let changed = choice.update(node: node, host: host, addressBook: book) { $0 == winner ? "has no path (probes unanswered)" : nil }.changed
        #expect(choice.chosen[lan]?.member == partner && changed.map(\.prefix) == [lan])
        #expect(choice.chosen[lan]?.reason.contains("passed over") == true)
        _ = choice.update(node: node, host: host, addressBook: book) { _ in "has no path" }
        #expect(choice.chosen[lan]?.member == winner, "in doubt everywhere: the hash decides again")
    }

    /// A member's endpoint inside a prefix a routing daemon routes through the mesh is never
    /// chosen (WireGuard's packets to it would enter the tunnel).
    @Test func anEndpointInsideADaemonsRouteIsNeverChosen() throws {
        var core = core()
        let lan = AnnouncedEndpoint(.local, SocketEndpoint("10.9.4.2:51820")!)
        let uplink = AnnouncedEndpoint(.local, SocketEndpoint("198.51.100.2:51820")!)
        core.daemonRoutes.observed = [.init(prefix: IPPrefix("10.9.4.0/24")!, nextHops: [cluster.certificates[2].addresses[0]])]
        let plan = core.planDevice(node: try node(with: [try member(2, endpoints: [lan, uplink])]), host: host, device: { _ in nil }, now: now)
        #expect(plan.peers.first { $0.member == id(2) }?.endpoint == uplink.endpoint)
    }

    /// A daemon's route covering another member's overlay address, or this host's underlay
    /// address, is refused: WireGuard would move that address to the next hop.
    @Test func aRoutingDaemonsRouteOverAMembersAddressIsRefused() throws {
        var core = core()
        let overlay2 = cluster.certificates[2].addresses[0]
        let coversMember3 = IPPrefix(containing: cluster.certificates[3].addresses[0], length: 24)!
        core.daemonRoutes.observed = [.init(prefix: coversMember3, nextHops: [overlay2]), .init(prefix: IPPrefix("10.0.0.0/24")!, nextHops: [overlay2])]
        let plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now)
        #expect(Set(plan.refusedDaemonRoutes.map(\.prefix)) == [coversMember3, IPPrefix("10.0.0.0/24")!])
        #expect(core.daemonRoutes.carried.isEmpty)
    }

    /// Issue 12: a prefix served by two members is in exactly one peer's allowed IPs — the
    /// higher-priority gateway's — and moves to the other in the plan after the first dies; a
    /// node that does not accept routes installs none; a served prefix covering this host's own
    /// underlay address is refused and reported once.
    @Test func aPrefixServedByTwoGatewaysGoesToTheBestLiveOne() throws {
        let site = IPPrefix("192.168.10.0/24")!
        func allowed(_ plan: DevicePlan, _ index: Int) -> [IPPrefix] { plan.peers.first { $0.member == id(index) }?.allowedIPs ?? [] }
        var core = core()
        let gateways = [try member(2, served: [ServedRoute(prefix: site, priority: 150)]), try member(3, served: [ServedRoute(prefix: site, priority: 100)])]
        let ignoring = core.planDevice(node: try node(with: gateways), host: host, device: { _ in nil }, now: now)
        #expect(!allowed(ignoring, 2).contains(site) && !allowed(ignoring, 3).contains(site), "routes.accept is off by default")
        core.routes.settings.acceptance = .all
        let plan = core.planDevice(node: try node(with: gateways), host: host, device: { _ in nil }, now: now)
        #expect(plan.routesChanged)
        #expect(allowed(plan, 2).contains(site) && !allowed(plan, 3).contains(site))
        #expect(core.routes.routed == [site])
        let dead = [try member(2, status: .dead, served: [ServedRoute(prefix: site, priority: 150)]), gateways[1]]
        let after = core.planDevice(node: try node(with: dead), host: host, device: { _ in nil }, now: now + .seconds(1))
        #expect(after.routesChanged)
        #expect(allowed(after, 3).contains(site))
        #expect(core.routes.prefixes[site]?.reason.contains("is dead") == true)
        // A prefix over this host's own underlay address (10.0.0.2) is never routed into the mesh.
        let underlay = [try member(2, served: [ServedRoute(prefix: IPPrefix("10.0.0.0/24")!)])]
        let refusing = core.planDevice(node: try node(with: underlay), host: host, device: { _ in nil }, now: now + .seconds(2))
        #expect(refusing.refusedRoutes.map(\.prefix) == [IPPrefix("10.0.0.0/24")!])
        #expect(!allowed(refusing, 2).contains(IPPrefix("10.0.0.0/24")!))
        let again = core.planDevice(node: try node(with: underlay), host: host, device: { _ in nil }, now: now + .seconds(3))
        #expect(again.refusedRoutes.isEmpty, "reported once")
    }

    /// Issue 12 point 3: the default routes go to one exit only when this node uses exits (the
    /// named one first, another while it is dead), never from a member without the exit role, and
    /// the exit's endpoint stays usable (WireGuard's own packets keep the real default route).
    @Test func theDefaultRoutesGoToTheChosenExitOnly() throws {
        func allowed(_ plan: DevicePlan, _ index: Int) -> [IPPrefix] { plan.peers.first { $0.member == id(index) }?.allowedIPs ?? [] }
        let served = IPPrefix.defaultRoutes.map { ServedRoute(prefix: $0, priority: 100) }
        let exits = [try member(2, served: served), try member(3, served: served)]
        var core = core()
        core.routes.settings.acceptance = .all
        let off = core.planDevice(node: try node(with: exits), host: host, device: { _ in nil }, now: now)
        #expect(!allowed(off, 2).contains(.defaultIPv4) && !allowed(off, 3).contains(.defaultIPv4), "exit use none: routes.accept does not take them")
        core.routes.settings.exit = .member("node-3")
        let plan = core.planDevice(node: try node(with: exits), host: host, device: { _ in nil }, now: now + .seconds(1))
        #expect(allowed(plan, 3).contains(.defaultIPv4) && allowed(plan, 3).contains(.defaultIPv6))
        #expect(!allowed(plan, 2).contains(.defaultIPv4))
        #expect(allowed(plan, 2).contains(IPPrefix(host: cluster.certificates[2].addresses[0])), "the other exit keeps its own address")
        #expect(plan.peers.first { $0.member == id(3) }?.endpoint != nil)
        let deadChosen = [exits[0], try member(3, status: .dead, served: served)]
        let fallback = core.planDevice(node: try node(with: deadChosen), host: host, device: { _ in nil }, now: now + .seconds(2))
        #expect(allowed(fallback, 2).contains(.defaultIPv4))
        // A member without the exit role serving the default route (its record would not even
        // validate) is not taken.
        let plain = try member(0, served: served)
        var auto = self.core()
        auto.routes.settings.exit = .auto
        let none = auto.planDevice(node: try node(with: [plain]), host: host, device: { _ in nil }, now: now)
        #expect(!allowed(none, 0).contains(.defaultIPv4))
    }

    @Test func everyLiveMemberButThisNodeIsAPeerAtItsAnnouncedEndpoint() throws {
        var core = core()
        let plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now)
        #expect(plan.peers.map(\.member).sorted() == [0, 2, 3].map(id).sorted())
        for peer in plan.peers {
            let index = cluster.certificates.firstIndex { $0.nodeID == peer.member }!
            #expect(peer.endpoint == cluster.records[index].wireGuardEndpoints[0].endpoint)
            #expect(peer.allowedIPs == cluster.certificates[index].addresses.map(IPPrefix.init(host:)))
            #expect(peer.persistentKeepalive == 0)  // not behind NAT, not relayed
        }
        #expect(plan.refused.isEmpty)
    }

    /// Behind NAT, keepalives hold the mapping open, but only from the end that may initiate
    /// (turning one on makes WireGuard send at once).
    @Test func keepalivesFromBehindNATOnlyTowardsPeersThisEndInitiates() throws {
        var core = core()
        var natted = host
        natted.behindNAT = true
        let plan = core.planDevice(node: try node(), host: natted, device: { _ in nil }, now: now)
        for peer in plan.peers {
            #expect(peer.persistentKeepalive == (core.firstHandshakes.mayInitiate(peer.publicKey, now: now) ? 25 : 0))
        }
    }

    @Test func aRelayedPeerIsSentToTheRelaysPort() throws {
        var core = core()
        let relayPort = SocketEndpoint("10.0.0.1:40002")!
        core.paths.noteActivity(id(2), now: now)
        _ = core.paths.relayGranted(id(2), relay: id(0), endpoint: relayPort, requested: false, now: now)
        let plan = core.planDevice(node: try node(), host: host, device: { _ in nil }, now: now)
        let peer = try #require(plan.peers.first { $0.member == id(2) })
        #expect(peer.endpoint == relayPort)
        #expect(peer.persistentKeepalive == (core.firstHandshakes.mayInitiate(key(2), now: now) ? 25 : 0))
    }

    /// A dead member keeps its peer (without a new endpoint) while its WireGuard session lives.
    @Test func aDeadMembersPeerStaysWhileItsSessionLives() throws {
        var core = core()
        let node = try node(with: [member(2, status: .dead), member(3, status: .dead)])
        let session = DevicePeerView(endpoint: SocketEndpoint("10.0.0.3:51820"), lastHandshake: now - .seconds(100), receivedBytes: 1, transmittedBytes: 1)
        let lapsed = DevicePeerView(endpoint: SocketEndpoint("10.0.0.4:51820"), lastHandshake: now - .seconds(181), receivedBytes: 1, transmittedBytes: 1)
        let plan = core.planDevice(node: node, host: host, device: { $0 == key(2) ? session : $0 == key(3) ? lapsed : nil }, now: now)
        let kept = try #require(plan.peers.first { $0.member == id(2) })
        #expect(kept.endpoint == nil)
        #expect(!plan.peers.contains { $0.member == id(3) })
    }

    /// A prefix covering another member's overlay address is never planned, and is reported once
    /// per record version.
    @Test func aPrefixCoveringAnotherMemberIsRefusedAndReportedOnce() throws {
        var core = core()
        let own = IPPrefix(host: cluster.certificates[2].addresses[0]), lan = IPPrefix("192.168.7.0/24")!
        let stealing = IPPrefix(host: cluster.certificates[3].addresses[0])
        let node = try node(with: [member(2, prefixes: [own, lan, stealing])])
        let first = core.planDevice(node: node, host: host, device: { _ in nil }, now: now)
        #expect(first.peers.first { $0.member == id(2) }?.allowedIPs == [own, lan])
        #expect(first.refused.map(\.prefix) == [stealing])
        #expect(core.planDevice(node: node, host: host, device: { _ in nil }, now: now).refused.isEmpty)
    }

    /// Candidates are ranked: on this host's subnet, global IPv6, observed, advertised, other IPv4,
    /// reflexive; a family this host lacks is left out.
    @Test func endpointsAreRankedByWhatWorksFromHere() throws {
        let subnet = SocketEndpoint("192.168.1.9:51820")!, v6 = SocketEndpoint("[2001:db8::9]:51820")!
        let observed = SocketEndpoint("198.51.100.9:40000")!, advertised = SocketEndpoint("203.0.113.9:51820")!
        let other = SocketEndpoint("172.16.0.9:51820")!
        let announced = [
            AnnouncedEndpoint(.local, other), AnnouncedEndpoint(.advertised, advertised), AnnouncedEndpoint(.observed, observed),
            AnnouncedEndpoint(.local, v6), AnnouncedEndpoint(.local, subnet),
        ]
        let peer = try member(2, endpoints: announced)
        var dualStack = host
        dualStack.localAddresses = [IPAddress("192.168.1.2")!, IPAddress("2001:db8::2")!]
        dualStack.subnets = [(IPAddress("192.168.1.2")!, IPPrefix("192.168.1.0/24")!)]
        #expect(PathCore.rankedEndpoints(of: peer, from: dualStack) == [subnet, v6, observed, advertised, other])
        #expect(PathCore.rankedEndpoints(of: peer, from: host) == [observed, advertised, other, subnet])
    }

    /// A new peer with an endpoint is watched and its first handshake scheduled; this end nudges
    /// the peers it may initiate towards (new, or moved).
    @Test func anAppliedPlanNudgesWhereThisEndInitiates() throws {
        var core = core()
        let node = try node()
        let nudges = core.deviceApplied(added: [(key(2), true), (key(3), false)], moved: [key(0)], node: node, now: now)
        #expect(core.firstHandshakes.isWaiting(key(2)))
        #expect(!core.firstHandshakes.isWaiting(key(3)))
        #expect(nudges == [key(2), key(0)].filter { core.firstHandshakes.mayInitiate($0, now: now) })
    }

    /// Counters against the last reading: data arriving marks the path working; a member whose data
    /// comes from an endpoint it does not announce is told, once, then again after the refresh.
    @Test func readingsMarkWorkingPathsAndReportUnannouncedEndpoints() throws {
        var core = core()
        let node = try node()
        let outside = SocketEndpoint("198.51.100.3:61000")!
        func view(_ received: UInt64) -> DevicePeerView {
            DevicePeerView(endpoint: outside, lastHandshake: now, receivedBytes: received, transmittedBytes: 10)
        }
        let first = core.observeDevice([key(2): view(100)], node: node, now: now)
        #expect(first.endpointReports.map(\.member) == [id(2)])
        #expect(first.endpointReports.map(\.endpoint) == [outside])
        #expect(core.paths.lastReceived(from: id(2)) == .zero)  // nothing to compare with yet
        let second = core.observeDevice([key(2): view(200)], node: node, now: now + .milliseconds(100))
        #expect(second.endpointReports.isEmpty)
        #expect(core.paths.lastReceived(from: id(2)) == now + .milliseconds(100))
        let refreshed = core.observeDevice([key(2): view(300)], node: node, now: now + AgentTiming.endpointReportRefresh)
        #expect(refreshed.endpointReports.map(\.endpoint) == [outside])
        // Nothing arriving: no report, however old the last.
        let idle = core.observeDevice([key(2): view(300)], node: node, now: now + AgentTiming.endpointReportRefresh * 3)
        #expect(idle.endpointReports.isEmpty)
    }

    @Test func aRelaysPortIsNeverReported() throws {
        var core = core()
        let relayPort = SocketEndpoint("10.0.0.1:40002")!
        core.relayEndpoints.insert(relayPort)
        let seen = DevicePeerView(endpoint: relayPort, lastHandshake: now, receivedBytes: 100, transmittedBytes: 10)
        #expect(core.observeDevice([key(2): seen], node: try node(), now: now).endpointReports.isEmpty)
    }

    /// After a restart, a peer the device still sends to a relay's port is relayed through that
    /// relay; a peer at the relay's own WireGuard endpoint (the relay itself) and peers elsewhere
    /// stay direct.
    @Test func aPeerLeftOnARelayPortAfterARestartIsRelayed() throws {
        var core = core()
        let node = try node(with: [member(0, flags: [.relay])])
        let relayAddress = cluster.records[0].wireGuardEndpoints[0].endpoint.address
        let relayPort = SocketEndpoint(address: relayAddress, port: 40002)
        func view(_ endpoint: SocketEndpoint) -> DevicePeerView {
            DevicePeerView(endpoint: endpoint, lastHandshake: now, receivedBytes: 10, transmittedBytes: 10)
        }
        let effects = core.adoptRelayedPaths(
            [key(2): view(relayPort), key(0): view(cluster.records[0].wireGuardEndpoints[0].endpoint), key(3): view(cluster.records[3].wireGuardEndpoints[0].endpoint)],
            node: node, sessions: { _ in true }, now: now)
        #expect(core.paths.route(to: id(2)) == .relayed(relay: id(0), endpoint: relayPort))
        #expect(core.paths.route(to: id(0)) == .direct)
        #expect(core.paths.route(to: id(3)) == .direct)
        #expect(core.relayEndpoints.contains(relayPort))
        #expect(effects.contains(.reconcile))
        // Without the relay flag in its record, the member is no relay: nothing is adopted.
        var plain = self.core()
        _ = plain.adoptRelayedPaths([key(2): view(relayPort)], node: try self.node(), sessions: { _ in true }, now: now)
        #expect(plain.paths.route(to: id(2)) == .direct)
    }

    /// A direct peer whose WireGuard was roamed to a relay's port (its other end was relayed alone)
    /// and from which nothing arrives for a second is planned back onto its direct endpoint, and
    /// the reading that finds it asks for a plan; with data arriving, the relay port is left alone.
    @Test func aDirectPeerStuckOnAStaleRelayPortGoesBackToItsEndpoint() throws {
        var core = core()
        let node = try node(with: [member(0, flags: [.relay])])
        let relayPort = SocketEndpoint(address: cluster.records[0].wireGuardEndpoints[0].endpoint.address, port: 40001)
        let direct = cluster.records[2].wireGuardEndpoints[0].endpoint
        core.paths.noteReceived(id(2), now: now)
        func view(sent: UInt64) -> DevicePeerView { DevicePeerView(endpoint: relayPort, lastHandshake: now, receivedBytes: 100, transmittedBytes: sent) }
        _ = core.observeDevice([key(2): view(sent: 100)], node: node, now: now)
        // Data arrived just now: a working asymmetric path through the relay.
        #expect(!core.observeDevice([key(2): view(sent: 200)], node: node, now: now + .milliseconds(100)).contradictsPath)
        #expect(core.planDevice(node: node, host: host, device: { $0 == key(2) ? view(sent: 200) : nil }, now: now + .milliseconds(100))
            .peers.first { $0.member == id(2) }?.endpoint == nil)
        // Sending for over a second with nothing arriving: back to the direct endpoint.
        let later = now + AgentTiming.staleRelayPort + .milliseconds(100)
        #expect(core.observeDevice([key(2): view(sent: 300)], node: node, now: later).contradictsPath)
        #expect(core.planDevice(node: node, host: host, device: { $0 == key(2) ? view(sent: 300) : nil }, now: later)
            .peers.first { $0.member == id(2) }?.endpoint == direct)
    }

    /// A relayed peer whose data arrives straight from a new address (it moved and never took the
    /// relay; WireGuard roamed to it) is taken direct by the reading that sees it: the relay still
    /// expects it at the old address. From the address its direct path failed on, or from a relay's
    /// port, the path stays relayed (a path that fails one way only is the probes' to judge).
    @Test func aRelayedPeerSendingFromANewAddressIsTakenDirect() throws {
        let node = try node(with: [member(0, flags: [.relay])])
        let relayPort = SocketEndpoint(address: cluster.records[0].wireGuardEndpoints[0].endpoint.address, port: 40001)
        let old = SocketEndpoint("203.0.113.3:51820")!, moved = SocketEndpoint("198.51.100.3:51820")!
        func view(_ endpoint: SocketEndpoint, received: UInt64) -> DevicePeerView {
            DevicePeerView(endpoint: endpoint, lastHandshake: now, receivedBytes: received, transmittedBytes: received)
        }
        func relayedCore() -> PathCore {
            var core = self.core()
            core.paths.noteActivity(id(2), now: now)
            _ = core.observeDevice([key(2): view(old, received: 100)], node: node, now: now)
            _ = core.observeDevice([key(2): view(old, received: 200)], node: node, now: now + .milliseconds(100))
            core.relayEndpoints.insert(relayPort)
            _ = core.paths.relayGranted(id(2), relay: id(0), endpoint: relayPort, requested: true, now: now + .milliseconds(600))
            return core
        }
        var core = relayedCore()
        let reading = core.observeDevice([key(2): view(moved, received: 300)], node: node, now: now + .milliseconds(800))
        #expect(core.paths.route(to: id(2)) == .direct)
        #expect(reading.effects.contains(.send(.release(peer: id(2)), to: id(0))))
        #expect(reading.effects.contains(.reconcile))
        var sameAddress = relayedCore()
        _ = sameAddress.observeDevice([key(2): view(old, received: 300)], node: node, now: now + .milliseconds(800))
        #expect(sameAddress.paths.route(to: id(2)) == .relayed(relay: id(0), endpoint: relayPort))
        var throughRelay = relayedCore()
        _ = throughRelay.observeDevice([key(2): view(relayPort, received: 300)], node: node, now: now + .milliseconds(800))
        #expect(throughRelay.paths.route(to: id(2)) == .relayed(relay: id(0), endpoint: relayPort))
    }
}

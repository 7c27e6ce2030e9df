@testable import MeshAgentCore
import MeshCore
import MeshSim
import Testing

/// The agent's path decisions as effects (``PathCore``) and the relay's request decision
/// (``RelayDesk``), on a real protocol core.
@Suite struct PathCoreTests {
    let cluster: Cluster
    let node: MeshNode
    let now: Timestamp

    init() throws {
        cluster = try Cluster(count: 3, seed: 3)
        now = cluster.start
        node = try MeshNode(
            identity: cluster.identities[1], certificate: cluster.certificates[1], settings: cluster.settings,
            announcement: cluster.announcement(of: 1), members: cluster.snapshot, resume: cluster.records[1], newcomer: false,
            agreement: SimulatedKeyAgreement(identities: cluster.certificates.map(\.identityKey)), random: .seeded(1), now: cluster.start)
    }

    var peer: NodeID { cluster.certificates[2].nodeID }
    var relay: NodeID { cluster.certificates[0].nodeID }
    func core() -> PathCore { PathCore(ownKey: cluster.certificates[1].wireGuardKey, random: .seeded(2)) }

    @Test func aProbeIsAnsweredAtOnce() {
        var core = core()
        let effects = core.received(.pathProbe(sequence: 7), from: peer, node: node, sessions: { _ in nil }, now: now)
        #expect(effects == [.send(.pathAck(sequence: 7), to: peer)])
    }

    @Test func aGrantFromAMemberNeverHeardFromIsCounted() {
        var core = core()
        let effects = core.received(.grant(id: 0, peer: peer, port: 40001, lease: 30), from: relay, node: node, sessions: { _ in nil }, now: now)
        #expect(effects == [.count(.forgedRelayGrant)])
    }

    @Test func anAckNobodyAskedForChangesNothing() {
        var core = core()
        #expect(core.received(.pathAck(sequence: 99), from: peer, node: node, sessions: { _ in nil }, now: now).isEmpty)
        #expect(core.received(.request(id: 1, peer: peer), from: peer, node: node, sessions: { _ in nil }, now: now).isEmpty)
    }

    /// A reroute of a peer never heard from re-creates it at the initiating end (then plans), and
    /// punches after the plan; the other end only plans.
    @Test func aRerouteBecomesOnePlanAndAFreshFirstHandshake() {
        var core = core()
        let key = cluster.certificates[2].wireGuardKey
        let effects = core.effects(of: [.reroute(peer)], node: node, sessions: { _ in false }, now: now)
        let initiates = core.firstHandshakes.isInitiator(towards: key)
        #expect(effects.contains(.reconcile))
        #expect(effects.contains(.punchAfterReconcile([peer])))
        #expect(effects.contains(.recreate([key])) == initiates)
        // With a session, nothing is re-created.
        var withSession = self.core()
        #expect(!withSession.effects(of: [.reroute(peer)], node: node, sessions: { _ in true }, now: now).contains { if case .recreate = $0 { true } else { false } })
    }

    /// A peer healed back to direct whose WireGuard endpoint is a relay port contradicts its path,
    /// for a few seconds after the heal.
    @Test func aHealedPeerOnARelayPortContradictsItsPath() {
        var core = core()
        let relayPort = SocketEndpoint("10.0.0.1:40002")!
        var clock = now
        // Relayed by the relay's grant (the direct path in doubt), then healed by probes answered.
        core.paths.noteActivity(peer, now: clock)
        _ = core.paths.relayGranted(peer, relay: relay, endpoint: relayPort, requested: false, now: clock)
        core.relayEndpoints.insert(relayPort)
        #expect(!core.endpointContradictsPath(peer, deviceEndpoint: relayPort, now: clock))  // relayed: no contradiction
        _ = core.paths.directRestored(peer, now: clock + .seconds(1))
        clock = clock + .seconds(1)
        #expect(core.paths.route(to: peer) == .direct)
        #expect(core.endpointContradictsPath(peer, deviceEndpoint: relayPort, now: clock + .milliseconds(100)))
        #expect(!core.endpointContradictsPath(peer, deviceEndpoint: SocketEndpoint("10.0.0.3:51820")!, now: clock))
        #expect(!core.endpointContradictsPath(peer, deviceEndpoint: nil, now: clock))
        // Long after the heal, the other end may still be relayed: WireGuard is left to roam.
        #expect(!core.endpointContradictsPath(peer, deviceEndpoint: relayPort, now: clock + AgentTiming.roamedBackWindow))
    }

    /// This host moved: each direct peer in use gets one packet through its tunnel after a plan
    /// (its WireGuard roams to the new source; this end's NAT opens towards it).
    @Test func aMovedHostPunchesItsDirectPeersInUse() {
        var core = core()
        core.paths.noteActivity(peer, now: now)
        let effects = core.localAddressesChanged(node: node, sessions: { _ in true }, now: now)
        #expect(effects.contains(.reconcile))
        #expect(effects.contains(.punchAfterReconcile([peer])))
        #expect(core.punchTargets([peer], node: node, sessions: { _ in true }) == [cluster.certificates[2].wireGuardKey])
        // Nothing in use: nothing to punch.
        var idle = self.core()
        #expect(idle.localAddressesChanged(node: node, sessions: { _ in true }, now: now).isEmpty)
    }

    @Test func theRelayRefusesPairsItCannotServe() {
        #expect(RelayDesk.decide(peer: peer, requester: peer, node: node) == .refuse(.unknownPeer, counted: true))
        #expect(RelayDesk.decide(peer: node.id, requester: peer, node: node) == .refuse(.unknownPeer, counted: true))
        // A requester this node never heard from directly has no address to allow.
        #expect(RelayDesk.decide(peer: relay, requester: peer, node: node) == .refuse(.unknownPeer, counted: true))
        let grants = RelayDesk.grants(id: 5, requester: peer, peer: relay, ports: [peer: 40001, relay: 40002], lease: .seconds(30))
        #expect(grants.requester == .grant(id: 5, peer: relay, port: 40001, lease: 30))
        #expect(grants.peer == .grant(id: 0, peer: peer, port: 40002, lease: 30))
    }

    @Test func relaysAreOfferedOnlyByMembersWithRoleAndFlag() {
        #expect(!PathCore.isOfferingRelay(relay, node: node))  // role, but no flag in its record
        #expect(!PathCore.isOfferingRelay(peer, node: node))
        #expect(PathCore.relayCandidates(node)(peer, []).isEmpty)
    }
}

/// Which relays a node reaches is announced at once when it changes; round trips alone at most
/// every 30 s.
@Suite struct RelayAnnouncementTests {
    let a = NodeID(0xA), c = NodeID(0xC)

    @Test func aNewlyReachedRelayIsAnnouncedAtOnce() {
        let before = [RelayReachability(relay: a, rttMilliseconds: 20)]
        let after = before + [RelayReachability(relay: c, rttMilliseconds: 40)]
        #expect(PathCore.shouldAnnounceRelays(after, announced: before, sinceLastAnnouncement: .seconds(1)))
        #expect(PathCore.shouldAnnounceRelays(before, announced: after, sinceLastAnnouncement: .seconds(1)))
    }

    @Test func roundTripsAloneWaitThirtySeconds() {
        let before = [RelayReachability(relay: a, rttMilliseconds: 20)]
        let slower = [RelayReachability(relay: a, rttMilliseconds: 60)]
        #expect(!PathCore.shouldAnnounceRelays(slower, announced: before, sinceLastAnnouncement: .seconds(29)))
        #expect(PathCore.shouldAnnounceRelays(slower, announced: before, sinceLastAnnouncement: .seconds(30)))
        #expect(!PathCore.shouldAnnounceRelays(before, announced: before, sinceLastAnnouncement: .seconds(300)))
    }
}

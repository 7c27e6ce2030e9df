@testable import MeshAgent
import MeshCore
import Testing

/// The path manager on a virtual clock: no sockets, only probes, answers and relay messages.
@Suite struct PathManagerTests {
    let peer = NodeID(0xB), relayA = NodeID(0xA), relayC = NodeID(0xC)
    let relayEndpoint = SocketEndpoint("198.51.100.1:40001")!

    /// Advances `clock` in 50 ms ticks for `duration`, answering probes of the nodes in `answering`.
    func run(_ paths: inout PathManager, clock: inout Timestamp, for duration: Interval, answering: Set<NodeID>,
             relays: [NodeID] = [NodeID(0xA), NodeID(0xC)]) -> [PathManager.Action] {
        var all: [PathManager.Action] = []
        let end = clock + duration
        while clock < end {
            clock = clock + .milliseconds(50)
            let actions = paths.tick(now: clock, relayCandidates: { _, excluded in relays.filter { !excluded.contains($0) } }, name: { $0.hex })
            all += actions
            for case let .probe(target, sequence) in actions where answering.contains(target) {
                all += paths.probeAnswered(sequence, from: target, now: clock + .milliseconds(1))
            }
        }
        return all
    }

    @Test func idlePeersAreNotProbed() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: .zero)
        let actions = run(&paths, clock: &clock, for: .seconds(5), answering: [])
        #expect(actions.isEmpty)
        #expect(paths.route(to: peer) == .direct)
    }

    @Test func probesStayWithinTheBudgetAndReachEveryPeer() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.settings.maximumProbesPerSecond = 1000
        let many = (1...500).map { NodeID(UInt64(0x1000 + $0)) }
        for node in many { paths.noteActivity(node, now: clock) }
        let actions = run(&paths, clock: &clock, for: .seconds(2), answering: Set(many))
        var probed: [NodeID: Int] = [:]
        for case let .probe(target, _) in actions { probed[target, default: 0] += 1 }
        let total = probed.values.reduce(0, +)
        // 500 peers at 10 probes/s would be 10,000 probes in 2 s; the budget allows 1,000/s plus one burst.
        #expect(total <= 2000 + 100, "\(total) probes")
        #expect(total >= 1900, "\(total) probes: the budget should be used")
        #expect(probed.count == many.count, "every peer is probed")
        #expect(probed.values.max() ?? 0 <= (probed.values.min() ?? 0) + 1, "probes are shared evenly")
        #expect(many.allSatisfy { paths.route(to: $0) == .direct }, "a stretched interval is not a failure")
    }

    @Test func failedDirectPathAsksForARelayWithinHalfASecond() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = run(&paths, clock: &clock, for: .seconds(1), answering: [peer])
        #expect(paths.route(to: peer) == .direct)
        let cutAt = clock
        var requested: Timestamp?
        while requested == nil, clock - cutAt < .seconds(2) {
            for case .requestRelay(relayA, peer, _) in run(&paths, clock: &clock, for: .milliseconds(50), answering: []) { requested = clock }
        }
        let delay = (requested ?? .distantFuture) - cutAt
        #expect(delay <= .milliseconds(600), "relay requested after \(delay)")
        #expect(paths.reason(for: peer)?.contains("direct probes unanswered") == true)
        let actions = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: clock)
        #expect(actions.contains(.reroute(peer)))
        #expect(paths.route(to: peer) == .relayed(relay: relayA, endpoint: relayEndpoint))
    }

    @Test func dataStillArrivingKeepsTheDirectPathWhileTheAgentIsSilent() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = run(&paths, clock: &clock, for: .seconds(1), answering: [peer])
        // The peer's agent restarts: probes go unanswered, but WireGuard keeps receiving.
        var actions: [PathManager.Action] = []
        for _ in 0..<60 {
            #expect(paths.wantsReceiveCounters(now: clock) || actions.isEmpty)
            paths.noteReceived(peer, now: clock)
            actions += run(&paths, clock: &clock, for: .milliseconds(100), answering: [])
        }
        #expect(!actions.contains { if case .requestRelay = $0 { true } else { false } }, "\(actions)")
        #expect(paths.route(to: peer) == .direct)
        #expect(paths.wantsReceiveCounters(now: clock))
        // Then the data stops too: the path has failed.
        let stoppedAt = clock
        var requested: Timestamp?
        while requested == nil, clock - stoppedAt < .seconds(2) {
            for case .requestRelay(_, _, _) in run(&paths, clock: &clock, for: .milliseconds(50), answering: []) { requested = clock }
        }
        let delay = (requested ?? .distantFuture) - stoppedAt
        #expect(delay <= .milliseconds(600), "relay requested \(delay) after the last data")
        #expect(paths.reason(for: peer)?.contains("no WireGuard data received") == true)
    }

    @Test func healsWithHysteresisAndTellsThePeer() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: clock)
        // Direct still broken: stays relayed (relay answers).
        _ = run(&paths, clock: &clock, for: .seconds(3), answering: [relayA])
        #expect(paths.route(to: peer) == .relayed(relay: relayA, endpoint: relayEndpoint))
        // Direct healed: back after a few answered probes, releasing the relay and telling the peer.
        paths.noteActivity(peer, now: clock)
        let actions = run(&paths, clock: &clock, for: .seconds(3), answering: [relayA, peer])
        #expect(paths.route(to: peer) == .direct)
        #expect(actions.contains(.release(relay: relayA, peer: peer)))
        #expect(actions.contains(.notifyDirect(peer)))
    }

    @Test func aSilentRelayIsReplaced() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: clock)
        let actions = run(&paths, clock: &clock, for: .seconds(1), answering: [])
        #expect(actions.contains { if case .requestRelay(relayC, peer, _) = $0 { return true } else { return false } })
        #expect(paths.reason(for: peer)?.contains("stopped answering") == true)
    }

    @Test func anIdleRelayedPairGivesItsAllocationBack() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: clock)
        let actions = run(&paths, clock: &clock, for: .seconds(12), answering: [relayA])
        #expect(actions.contains(.release(relay: relayA, peer: peer)))
        #expect(paths.route(to: peer) == .direct)
    }

    @Test func noRelayMeansUnreachableWithAReason() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        let actions = run(&paths, clock: &clock, for: .seconds(1), answering: [], relays: [])
        #expect(paths.route(to: peer) == .unreachable)
        #expect(paths.reason(for: peer)?.contains("no relay reachable from both ends") == true)
        // The WireGuard endpoint stays: only the status changes (no reconcile, no re-created peer).
        #expect(actions.contains(.reachabilityChanged(peer)) && !actions.contains(.reroute(peer)))
        // Healing goes through a reroute: a peer never heard from is re-created then.
        let healed = run(&paths, clock: &clock, for: .milliseconds(200), answering: [peer], relays: [])
        #expect(paths.route(to: peer) == .direct)
        #expect(healed.contains(.reroute(peer)))
    }

    @Test func aRelapseDoublesTheWaitBeforeTheNextDirectRetry() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: clock)
        #expect(paths.peers[peer]?.retryBackoff == .seconds(1))
        _ = run(&paths, clock: &clock, for: .seconds(3), answering: [relayA, peer])
        #expect(paths.route(to: peer) == .direct)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: clock)
        #expect(paths.peers[peer]?.retryBackoff == .seconds(2))
    }
}

@Suite struct RelayMessageTests {
    @Test func everyMessageRoundTrips() {
        let messages: [RelayMessage] = [
            .pathProbe(sequence: 7), .pathAck(sequence: 7), .request(id: 9, peer: NodeID(3)),
            .grant(id: 9, peer: NodeID(3), port: 40123, lease: 30), .refuse(id: 9, peer: NodeID(3), reason: .full),
            .refresh(peer: NodeID(3)), .release(peer: NodeID(3)), .directRestored,
        ]
        for message in messages {
            #expect(RelayMessage(type: message.code.rawValue, body: message.body) == message)
        }
    }

    @Test func malformedBodiesAreRefused() {
        #expect(RelayMessage(type: 0x26, body: [1, 2, 3]) == nil)
        #expect(RelayMessage(type: 0x24, body: [0, 0, 0, 1, 9]) == nil)
        #expect(RelayMessage(type: 0x28, body: [0, 0, 0, 1] + [UInt8](repeating: 0, count: 8) + [99]) == nil)
        #expect(RelayMessage(type: 0x3F, body: []) == nil)
    }
}

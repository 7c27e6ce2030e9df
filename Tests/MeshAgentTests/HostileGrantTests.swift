@testable import MeshAgent
@testable import MeshAgentCore
import MeshCore
import Testing

/// A hostile member sends relay grants, refusals and path acks: the path manager believes only
/// what answers its own requests, or a relay's hint its own probes confirm (issue 10).
@Suite struct HostileGrantTests {
    let peer = NodeID(0xB), relay = NodeID(0xA), otherRelay = NodeID(0xC), mallory = NodeID(0xE)
    let relayEndpoint = SocketEndpoint("198.51.100.1:40001")!
    let malloryEndpoint = SocketEndpoint("203.0.113.66:40002")!

    /// Advances `clock` in 50 ms ticks for `duration`, answering probes of the nodes in `answering`
    /// while WireGuard sends to `peer`.
    func run(_ paths: inout PathManager, clock: inout Timestamp, for duration: Interval, answering: Set<NodeID>) -> [PathManager.Action] {
        var all: [PathManager.Action] = []
        let end = clock + duration
        while clock < end {
            clock = clock + .milliseconds(50)
            // The peer is in use: every 100 ms reading sees WireGuard sending to it.
            if (clock.nanoseconds / 50_000_000) % 2 == 0 { paths.noteActivity(peer, now: clock) }
            let actions = paths.tick(now: clock, relayCandidates: { _, excluded in [relay, otherRelay].filter { !excluded.contains($0) } }, name: { $0.hex })
            all += actions
            for case let .probe(target, sequence) in actions where answering.contains(target) {
                all += paths.probeAnswered(sequence, from: target, now: clock + .milliseconds(1))
            }
        }
        return all
    }

    /// A peer in use whose direct path works.
    func workingPath(clock: inout Timestamp) -> PathManager {
        var paths = PathManager()
        paths.noteActivity(peer, now: clock)
        _ = run(&paths, clock: &clock, for: .seconds(1), answering: [peer])
        return paths
    }

    /// Cuts the direct path until this node asks `relay` for a relay; returns the request id.
    func failUntilRequest(_ paths: inout PathManager, clock: inout Timestamp) -> UInt32? {
        for _ in 0..<40 {
            for case let .requestRelay(_, requestedPeer, id) in run(&paths, clock: &clock, for: .milliseconds(50), answering: []) where requestedPeer == peer {
                return id
            }
        }
        return nil
    }

    func grant(_ paths: inout PathManager, id: UInt32, from sender: NodeID, endpoint: SocketEndpoint? = nil, isRelay: Bool = true,
               liveMember: Bool = true, peer named: NodeID? = nil, now: Timestamp) -> [PathManager.Action] {
        paths.grantReceived(
            id: id, peer: named ?? peer, endpoint: endpoint ?? malloryEndpoint, from: sender, senderIsRelay: isRelay, peerIsLiveMember: liveMember,
            now: now)
    }

    @Test func aGrantFromAMemberWithoutTheRelayRoleAndFlagIsRefused() {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        let id = failUntilRequest(&paths, clock: &clock)
        #expect(id != nil)
        // Even echoing our request id: mallory is not a relay.
        #expect(grant(&paths, id: id ?? 0, from: mallory, isRelay: false, now: clock).isEmpty)
        #expect(grant(&paths, id: 0, from: mallory, isRelay: false, now: clock).isEmpty)
        #expect(paths.route(to: peer) == .direct)
        #expect(paths.drops[.forgedRelayGrant] == 2)
    }

    @Test func aGrantMustAnswerOurPendingRequestToThatRelayWithItsId() throws {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        // No request pending: a grant with an id answers nothing.
        #expect(grant(&paths, id: 7, from: relay, now: clock).isEmpty)
        let id = try #require(failUntilRequest(&paths, clock: &clock))
        // Wrong id, and the right id from a relay we did not ask.
        #expect(grant(&paths, id: id &+ 1 == 0 ? 1 : id &+ 1, from: relay, now: clock).isEmpty)
        #expect(grant(&paths, id: id, from: otherRelay, now: clock).isEmpty)
        // Our id, for a pair we did not ask about (someone else's pair).
        let bystander = NodeID(0xD)
        paths.noteActivity(bystander, now: clock)
        #expect(grant(&paths, id: id, from: relay, peer: bystander, now: clock).isEmpty)
        #expect(paths.route(to: bystander) == .direct)
        #expect(paths.route(to: peer) == .direct)
        #expect(paths.drops[.forgedRelayGrant] == 4)
        // The answer to our request is taken.
        #expect(grant(&paths, id: id, from: relay, endpoint: relayEndpoint, now: clock).contains(.reroute(peer)))
        #expect(paths.route(to: peer) == .relayed(relay: relay, endpoint: relayEndpoint))
    }

    @Test func requestIdsAreUnpredictableAndNeverZero() throws {
        var ids: [UInt32] = []
        for _ in 0..<4 {
            var clock = Timestamp(seconds: 1000)
            var paths = workingPath(clock: &clock)
            ids.append(try #require(failUntilRequest(&paths, clock: &clock)))
        }
        // Four managers with the same history: a counter would give the same id each time.
        #expect(Set(ids).count == ids.count, "\(ids)")
        #expect(!ids.contains(0))
    }

    @Test func grantsNamingThisNodeANonMemberOrTheRelayItselfAreRefusedAndGrowNothing() {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        for index in 0..<10_000 {
            _ = grant(&paths, id: 0, from: relay, liveMember: false, peer: NodeID(UInt64(0x10_000 + index)), now: clock)
        }
        _ = grant(&paths, id: 0, from: relay, peer: relay, now: clock)
        _ = grant(&paths, id: 0, from: relay, endpoint: SocketEndpoint(address: IPAddress("198.51.100.1")!, port: 0), now: clock)
        #expect(paths.peers.count == 1)
        #expect(paths.drops[.forgedRelayGrant] == 10_002)
        #expect(paths.route(to: peer) == .direct)
    }

    @Test func anUnsolicitedGrantForAWorkingDirectPathIsRefuted() {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        // A relay (it has the role) hints a pair this node never asked for, again and again.
        var actions: [PathManager.Action] = []
        for _ in 0..<20 {
            actions += grant(&paths, id: 0, from: relay, now: clock)
            actions += run(&paths, clock: &clock, for: .milliseconds(500), answering: [peer])
        }
        #expect(!actions.contains(.reroute(peer)), "\(actions)")
        #expect(paths.route(to: peer) == .direct)
        #expect(paths.peers[peer]?.retryBackoff == .zero, "repeated grants leave the retry backoff alone")
        #expect(paths.drops[.forgedRelayGrant] >= 19)
    }

    @Test func anUnsolicitedGrantIsTakenAtOnceWhileTheDirectPathIsInDoubt() {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        // The path is cut; our probes have gone unanswered for 300 ms when the relay's hint arrives.
        _ = run(&paths, clock: &clock, for: .milliseconds(300), answering: [])
        let actions = grant(&paths, id: 0, from: relay, endpoint: relayEndpoint, now: clock)
        #expect(actions.contains(.reroute(peer)))
        #expect(paths.route(to: peer) == .relayed(relay: relay, endpoint: relayEndpoint))
    }

    @Test func bothEndsAskingTheSameRelayAtOnceIsNotCountedAsForged() throws {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        let id = try #require(failUntilRequest(&paths, clock: &clock))
        // The relay's hint (the other end asked first) arrives before the answer to our request.
        #expect(grant(&paths, id: 0, from: relay, endpoint: relayEndpoint, now: clock).contains(.reroute(peer)))
        #expect(grant(&paths, id: id, from: relay, endpoint: relayEndpoint, now: clock).isEmpty)
        #expect(paths.route(to: peer) == .relayed(relay: relay, endpoint: relayEndpoint))
        #expect(paths.drops.total == 0)
    }

    @Test func aHeldHintIsTakenWithinAFewHundredMillisecondsWhenOwnProbesFail() {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        // Idle for a while (no probing), then the other end fails over and the relay tells us.
        _ = run(&paths, clock: &clock, for: .seconds(15), answering: [peer])
        let hintAt = clock
        #expect(grant(&paths, id: 0, from: relay, endpoint: relayEndpoint, now: clock).isEmpty, "held: the direct path is not in doubt yet")
        var switchedAt: Timestamp?
        while switchedAt == nil, clock - hintAt < .seconds(2) {
            if run(&paths, clock: &clock, for: .milliseconds(50), answering: []).contains(.reroute(peer)) { switchedAt = clock }
        }
        let delay = (switchedAt ?? .distantFuture) - hintAt
        #expect(delay <= .milliseconds(400), "switched \(delay) after the hint")
        #expect(paths.route(to: peer) == .relayed(relay: relay, endpoint: relayEndpoint))
    }

    /// The other end already sends through the relay, so WireGuard data keeps arriving here
    /// (WireGuard follows its source): the path looks quiet and working, but the hint must still
    /// be checked with probes, and is taken when they go unanswered (a lab run stayed "direct").
    @Test func aHeldHintIsCheckedEvenWhileDataArrives() {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        _ = run(&paths, clock: &clock, for: .seconds(15), answering: [peer])
        let hintAt = clock
        _ = grant(&paths, id: 0, from: relay, endpoint: relayEndpoint, now: clock)
        var switched = false
        while !switched, clock - hintAt < .seconds(2) {
            clock = clock + .milliseconds(50)
            paths.noteReceived(peer, now: clock)  // data through the relay, every reading
            let actions = paths.tick(now: clock, relayCandidates: { _, _ in [relay] }, name: { $0.hex })
            switched = actions.contains(.reroute(peer))
        }
        #expect(switched, "the hint was taken after unanswered probes")
        #expect(paths.route(to: peer) == .relayed(relay: relay, endpoint: relayEndpoint))
    }

    @Test func anAckFromAnotherNodeDoesNotAnswerAProbe() {
        var clock = Timestamp(seconds: 1000)
        var paths = PathManager()
        paths.noteActivity(peer, now: clock)
        var answeredByMallory = 0
        var actions: [PathManager.Action] = []
        // Mallory acks every probe sequence (they are guessable) while the real peer is silent.
        for _ in 0..<20 {
            clock = clock + .milliseconds(50)
            let tick = paths.tick(now: clock, relayCandidates: { _, excluded in [relay].filter { !excluded.contains($0) } }, name: { $0.hex })
            actions += tick
            for case let .probe(_, sequence) in tick {
                actions += paths.probeAnswered(sequence, from: mallory, now: clock)
                answeredByMallory += 1
            }
        }
        #expect(answeredByMallory > 0)
        #expect(actions.contains { if case .requestRelay = $0 { true } else { false } }, "the silent path is still declared failed")
        #expect(paths.drops[.unexpectedPathMessage] == UInt64(answeredByMallory))
    }

    @Test func aRefusalMustAnswerOurRequest() throws {
        var clock = Timestamp(seconds: 1000)
        var paths = workingPath(clock: &clock)
        let id = try #require(failUntilRequest(&paths, clock: &clock))
        // Mallory "refuses" on behalf of the relay we asked, and with a wrong id from that relay.
        paths.relayRefused(peer, id: id, relay: mallory, now: clock)
        paths.relayRefused(peer, id: id &+ 1, relay: relay, now: clock)
        #expect(paths.drops[.unexpectedPathMessage] == 2)
        // Our request still stands: the relay's real grant is taken.
        #expect(grant(&paths, id: id, from: relay, endpoint: relayEndpoint, now: clock).contains(.reroute(peer)))
    }

    @Test func thePathTableIsCapped() {
        var paths = PathManager()
        paths.settings.maximumPeers = 100
        for index in 0..<1000 { paths.noteActivity(NodeID(UInt64(0x100 + index)), now: .zero) }
        #expect(paths.peers.count == 100)
    }
}

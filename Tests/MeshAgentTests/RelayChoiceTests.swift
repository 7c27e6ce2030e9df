@testable import MeshAgentCore
import MeshCore
import Testing

/// Both ends of a pair lose the direct path at once and ask different relays: they must end on
/// one relay, and the other allocation is given back (found by the simulator's relay-dies sweep:
/// each end took the other's relay from its unsolicited grant, two relays held the pair, and each
/// end sent through another one).
@Suite struct RelayChoiceTests {
    let low = NodeID(0x1), high = NodeID(0x9), relayA = NodeID(0xA), relayC = NodeID(0xC)
    let endpointA = SocketEndpoint("198.51.100.1:40001")!, endpointC = SocketEndpoint("198.51.100.3:40007")!

    /// A path manager whose direct path to `peer` has just failed and that asked `relay`.
    func failed(towards peer: NodeID, asking relay: NodeID, clock: inout Timestamp) -> (PathManager, UInt32) {
        var paths = PathManager()
        paths.noteActivity(peer, now: clock)
        for _ in 0..<40 {
            clock = clock + .milliseconds(50)
            paths.noteActivity(peer, now: clock)
            for case let .requestRelay(_, _, id) in paths.tick(now: clock, relayCandidates: { _, _ in [relay] }, name: { $0.hex }) {
                return (paths, id)
            }
        }
        Issue.record("no relay request")
        return (paths, 0)
    }

    @Test func theLeadingEndKeepsItsRelayAgainstTheOtherEndsChoice() {
        var clock = Timestamp(seconds: 1000)
        var (paths, id) = failed(towards: high, asking: relayA, clock: &clock)
        // The other end's relay tells us of its allocation first: ignored while our request is pending.
        let hint = paths.grantReceived(id: 0, peer: high, endpoint: endpointC, from: relayC, senderIsRelay: true, peerIsLiveMember: true, leads: true, now: clock)
        #expect(hint.isEmpty)
        #expect(paths.route(to: high) != .relayed(relay: relayC, endpoint: endpointC))
        let own = paths.grantReceived(id: id, peer: high, endpoint: endpointA, from: relayA, senderIsRelay: true, peerIsLiveMember: true, leads: true, now: clock)
        #expect(own.contains(.reroute(high)))
        #expect(paths.route(to: high) == .relayed(relay: relayA, endpoint: endpointA))
        // Just granted: another relay's hint changes nothing either.
        #expect(paths.grantReceived(id: 0, peer: high, endpoint: endpointC, from: relayC, senderIsRelay: true, peerIsLiveMember: true, leads: true, now: clock + .milliseconds(10)).isEmpty)
        #expect(paths.drops.total == 0)
    }

    @Test func theOtherEndFollowsAndGivesItsOwnAllocationBack() {
        var clock = Timestamp(seconds: 1000)
        var (paths, id) = failed(towards: low, asking: relayC, clock: &clock)
        // The leader's relay tells us of its allocation: taken at once, our own request abandoned.
        let hint = paths.grantReceived(id: 0, peer: low, endpoint: endpointA, from: relayA, senderIsRelay: true, peerIsLiveMember: true, leads: false, now: clock)
        #expect(hint.contains(.reroute(low)))
        #expect(paths.route(to: low) == .relayed(relay: relayA, endpoint: endpointA))
        // Our own grant then arrives: released at once, not taken, not counted as forged.
        let own = paths.grantReceived(id: id, peer: low, endpoint: endpointC, from: relayC, senderIsRelay: true, peerIsLiveMember: true, leads: false, now: clock)
        #expect(own == [.release(relay: relayC, peer: low)])
        #expect(paths.route(to: low) == .relayed(relay: relayA, endpoint: endpointA))
        #expect(paths.drops.total == 0)
        // A second copy of that grant is forged now (the abandoned request was answered once).
        #expect(paths.grantReceived(id: id, peer: low, endpoint: endpointC, from: relayC, senderIsRelay: true, peerIsLiveMember: true, leads: false, now: clock).isEmpty)
        #expect(paths.drops.total == 1)
    }

    /// The relay's answer to a request measures the round trip to it (the first handshake through
    /// the relay is timed by it, before gossip has probed the relay); another relay's word does not.
    @Test func aGrantMeasuresTheRoundTripToTheRelayAsked() {
        var clock = Timestamp(seconds: 1000)
        var (paths, id) = failed(towards: high, asking: relayA, clock: &clock)
        _ = paths.grantReceived(id: 0, peer: high, endpoint: endpointC, from: relayC, senderIsRelay: true, peerIsLiveMember: true, leads: true, now: clock + .milliseconds(100))
        #expect(paths.relayRoundTrips.isEmpty)
        _ = paths.grantReceived(id: id, peer: high, endpoint: endpointA, from: relayA, senderIsRelay: true, peerIsLiveMember: true, leads: true, now: clock + .milliseconds(240))
        #expect(paths.relayRoundTrips == [relayA: .milliseconds(240)])
    }

    /// The relay's grant for the other end's request, while ours to the same relay is on its way,
    /// bounds the round trip too (both ends asked at once: it is the first word from the relay).
    @Test func theOtherEndsGrantFromTheRelayAskedMeasuresItToo() {
        var clock = Timestamp(seconds: 1000)
        var (paths, _) = failed(towards: low, asking: relayA, clock: &clock)
        _ = paths.grantReceived(id: 0, peer: low, endpoint: endpointA, from: relayA, senderIsRelay: true, peerIsLiveMember: true, leads: false, now: clock + .milliseconds(300))
        #expect(paths.relayRoundTrips == [relayA: .milliseconds(300)])
        #expect(paths.route(to: low) == .relayed(relay: relayA, endpoint: endpointA))
    }

    /// Ticks every 50 ms (with traffic) until `peer`'s path asks a relay; when, and the id.
    func nextRequest(_ paths: inout PathManager, towards peer: NodeID, relay: NodeID, clock: inout Timestamp, within limit: Interval) -> (at: Timestamp, id: UInt32)? {
        let end = clock + limit
        while clock < end {
            clock = clock + .milliseconds(50)
            paths.noteActivity(peer, now: clock)
            for case let .requestRelay(_, _, id) in paths.tick(now: clock, relayCandidates: { _, excluded in excluded.contains(relay) ? [] : [relay] }, name: { $0.hex }) {
                return (clock, id)
            }
        }
        return nil
    }

    /// A relay that does not know the peer as live yet (both hosts just started, and it still had
    /// them as dead) is asked again after 1 s, then 2 s: its view catches up within gossip's time.
    /// One that is no relay, or full, waits out the whole quarantine.
    @Test func aRelayWhoseViewLagsIsAskedAgainSoon() throws {
        var clock = Timestamp(seconds: 1000)
        var (paths, id) = failed(towards: high, asking: relayA, clock: &clock)
        var refusedAt = clock
        paths.relayRefused(high, id: id, relay: relayA, reason: .unknownPeer, now: refusedAt)
        let again = try #require(nextRequest(&paths, towards: high, relay: relayA, clock: &clock, within: .seconds(5)))
        #expect((again.at - refusedAt).seconds >= 1 && (again.at - refusedAt).seconds < 1.1)
        refusedAt = clock
        paths.relayRefused(high, id: again.id, relay: relayA, reason: .peerUnreachable, now: refusedAt)
        let third = try #require(nextRequest(&paths, towards: high, relay: relayA, clock: &clock, within: .seconds(5)))
        #expect((third.at - refusedAt).seconds >= 2 && (third.at - refusedAt).seconds < 2.1)
        paths.relayRefused(high, id: third.id, relay: relayA, reason: .notARelay, now: clock)
        #expect(nextRequest(&paths, towards: high, relay: relayA, clock: &clock, within: .seconds(25)) == nil)
        #expect(paths.drops.total == 0)
    }
}

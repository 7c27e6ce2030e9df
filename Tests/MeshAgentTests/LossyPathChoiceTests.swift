@testable import MeshAgentCore
import MeshCore
import Testing

/// Issue 11, point 5: choosing a relay over a lossy direct path is a measured decision (the loss
/// and round trip of both paths), not a timeout.
@Suite struct LossyPathChoiceTests {
    let peer = NodeID(0xB), relay = NodeID(0xA)
    let relayEndpoint = SocketEndpoint("198.51.100.1:40001")!

    /// A path manager that only the measured decision can move: a failure needs a minute without
    /// answers (so what moves the pair is the loss measured, not a timeout).
    func manager() -> PathManager {
        var paths = PathManager()
        paths.settings.failureTimeout = .seconds(60)
        paths.settings.maximumFailureTimeout = .seconds(60)
        return paths
    }

    /// `seconds` of 20 pings a second with the direct path answering `directAnswers` of round
    /// trips and the relay `relayAnswers`; relay requests are granted; returns the actions.
    func run(_ paths: inout PathManager, clock: inout Timestamp, seconds: Int, directAnswers: Double, relayAnswers: Double,
             seed: UInt64) -> [PathManager.Action] {
        var random = RandomSource.seeded(seed)
        var actions: [PathManager.Action] = []
        for _ in 0..<(seconds * 10) {
            let replies = (0..<2).filter { _ in Double.random(in: 0..<1, using: &random) < directAnswers }.count
            if replies > 0 { paths.noteReceived(peer, now: clock) } else { paths.noteActivity(peer, now: clock) }
            for _ in 0..<2 {
                clock = clock + .milliseconds(50)
                let step = paths.tick(now: clock, relayCandidates: { [relay] _, excluded in excluded.contains(relay) ? [] : [relay] }, name: { $0.hex })
                actions += step
                for case let .probe(target, sequence) in step {
                    let answers = target == peer ? directAnswers : relayAnswers
                    if Double.random(in: 0..<1, using: &random) < answers {
                        actions += paths.probeAnswered(sequence, from: target, now: clock + .milliseconds(target == peer ? 20 : 25))
                    }
                }
                for case let .requestRelay(relay, peer, id) in step {
                    actions += paths.grantReceived(id: id, peer: peer, endpoint: relayEndpoint, from: relay, senderIsRelay: true, peerIsLiveMember: true, now: clock)
                }
            }
        }
        return actions
    }

    func requests(_ actions: [PathManager.Action]) -> [UInt32] {
        actions.compactMap { if case let .requestRelay(_, _, id) = $0 { id } else { nil } }
    }

    @Test func aDirectPathLosingThreeQuartersMovesToACleanRelay() {
        for seed in UInt64(1)...20 {
            var paths = manager(), clock = Timestamp(seconds: 1000)
            let actions = run(&paths, clock: &clock, seconds: 30, directAnswers: 0.25, relayAnswers: 1, seed: seed)
            #expect(requests(actions).count == 1, "seed \(seed): \(requests(actions).count) relay requests over a direct path losing 75 %")
            #expect(paths.route(to: peer) == .relayed(relay: relay, endpoint: relayEndpoint))
            #expect(paths.peers[peer]?.relayedForLoss == true)
            #expect(paths.relayLegs[relay].map { $0.steadyLoss < 0.05 } == true)
        }
    }

    /// 30 % loss each way on every link: the direct path loses about half of all round trips, the
    /// relayed one (two such legs) about three quarters: the pair stays direct.
    @Test func underLossEverywhereTheDirectPathStays() {
        for seed in UInt64(1)...20 {
            var paths = manager(), clock = Timestamp(seconds: 1000)
            let actions = run(&paths, clock: &clock, seconds: 60, directAnswers: 0.49, relayAnswers: 0.49, seed: seed)
            #expect(requests(actions).isEmpty, "seed \(seed): a relay asked for although it loses more")
            #expect(paths.route(to: peer) == .direct)
        }
    }

    @Test func theReasonNamesBothMeasures() throws {
        var paths = manager(), clock = Timestamp(seconds: 1000)
        let actions = run(&paths, clock: &clock, seconds: 30, directAnswers: 0.25, relayAnswers: 1, seed: 7)
        #expect(requests(actions).count == 1)
        let reason = try #require(paths.reason(for: peer))
        #expect(reason.contains("the direct path loses") && reason.contains("through"), "\(reason)")
        #expect(paths.peers[peer]?.relayedForLoss == true)
    }

    /// Relayed for loss: a few direct answers in a row (by chance) do not take the path back; a
    /// direct path that stopped losing does.
    @Test func aLossRelayedPathGoesBackOnlyOnceTheLossIsGone() {
        var paths = manager(), clock = Timestamp(seconds: 1000)
        let actions = run(&paths, clock: &clock, seconds: 30, directAnswers: 0.25, relayAnswers: 1, seed: 3)
        #expect(requests(actions).count == 1)
        let stillLossy = run(&paths, clock: &clock, seconds: 60, directAnswers: 0.25, relayAnswers: 1, seed: 4)
        #expect(!stillLossy.contains(.notifyDirect(peer)))
        #expect(paths.route(to: peer) != .direct)
        let clean = run(&paths, clock: &clock, seconds: 120, directAnswers: 1, relayAnswers: 1, seed: 5)
        #expect(clean.contains(.notifyDirect(peer)))
        #expect(paths.route(to: peer) == .direct)
    }

    /// The relay the pair uses says it no longer holds it (the other end released it): back to
    /// direct at once, not on into a closed port.
    @Test func aRelayThatDroppedThePairSendsItBackToDirect() {
        var paths = PathManager(), clock = Timestamp(seconds: 1000)
        paths.noteActivity(peer, now: clock)
        _ = paths.relayGranted(peer, relay: relay, endpoint: relayEndpoint, requested: false, now: clock)
        clock = clock + .seconds(1)
        #expect(paths.relayRefused(peer, id: 0, relay: NodeID(0xC), reason: .unknownPeer, now: clock).isEmpty)
        #expect(paths.drops[.unexpectedPathMessage] == 1)
        #expect(paths.relayRefused(peer, id: 0, relay: relay, reason: .unknownPeer, now: clock) == [.reroute(peer)])
        #expect(paths.route(to: peer) == .direct)
    }

    @Test func theSteadyMeasureIsNotPulledTowardsNoLossAtFirst() {
        var quality = LinkQuality()
        for index in 0..<10 { if index % 2 == 0 { quality.lost(weight: 0.1) } else { quality.answered(after: .milliseconds(20), weight: 0.1) } }
        #expect(abs(quality.steadyLoss - 0.5) < 0.05, "\(quality.steadyLoss)")
        #expect(abs(quality.steadyLossOverTwoLegs - (1 - 0.5 * 0.5)) < 0.06)
    }
}

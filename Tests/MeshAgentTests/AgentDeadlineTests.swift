@testable import MeshAgentCore
import MeshCore
import MeshCrypto
import Testing

/// meshd and the simulator wake only at deadlines (issue 11: one deadline-driven loop, no
/// fixed-period polling). Each part that schedules work says when it next has something to do,
/// and driven only by those deadlines (and events) it decides as it did on a 50 ms tick.
@Suite struct AgentDeadlineTests {
    let peer = NodeID(0xB), relayA = NodeID(0xA)
    let relayEndpoint = SocketEndpoint("198.51.100.1:40001")!
    let start = Timestamp(seconds: 1_800_000_000)

    /// Drives `paths` from `clock` to `end` waking only at its deadline or at a device read (an
    /// event: every `readEvery`, WireGuard is seen sending to `sending` without receiving), answering
    /// probes of `answering` 1 ms later. Returns the actions and the number of wakes.
    func drive(
        _ paths: inout PathManager, clock: inout Timestamp, until end: Timestamp, answering: Set<NodeID>, sending: [NodeID],
        readEvery: Interval = .milliseconds(100)
    ) -> (actions: [PathManager.Action], wakes: Int, firstRequest: Timestamp?) {
        var actions: [PathManager.Action] = [], wakes = 0, firstRequest: Timestamp?
        var nextRead = clock + readEvery
        while clock < end {
            let deadline = paths.nextDeadline(after: clock)
            // As meshd and the simulator: never sooner than 1 ms (a spin would show in the wakes).
            clock = max(min(deadline, nextRead, end), clock + AgentTiming.shortestWake)
            if clock >= nextRead {
                for node in sending { paths.noteActivity(node, now: clock) }
                nextRead = clock + readEvery
            }
            wakes += 1
            let now = clock
            let batch = paths.tick(now: now, relayCandidates: { _, excluded in [NodeID(0xA)].filter { !excluded.contains($0) } }, name: { $0.hex })
            actions += batch
            if firstRequest == nil, batch.contains(where: { if case .requestRelay = $0 { true } else { false } }) { firstRequest = now }
            for case let .probe(target, sequence) in batch where answering.contains(target) {
                actions += paths.probeAnswered(sequence, from: target, now: now + .milliseconds(1))
            }
        }
        return (actions, wakes, firstRequest)
    }

    @Test func anIdleMeshHasNoPathDeadline() {
        var paths = PathManager()
        for index in 1...1000 { paths.noteActivity(NodeID(UInt64(0x1000 + index)), now: start) }
        // Ten seconds later nobody is in use: nothing to wake for.
        let later = start + .seconds(11)
        _ = paths.tick(now: later, relayCandidates: { _, _ in [] }, name: { $0.hex })
        #expect(paths.nextDeadline(after: later) == .distantFuture)
    }

    @Test func aWorkingPathWithTwoWayTrafficWakesNothingButItsReads() {
        var paths = PathManager(), clock = start
        paths.noteReceived(peer, now: clock)
        _ = paths.tick(now: clock, relayCandidates: { _, _ in [] }, name: { $0.hex })
        // Data comes back: no probe is due; only the end of the activity window is.
        #expect(paths.nextDeadline(after: clock) == clock + paths.settings.activityWindow)
    }

    @Test func failoverDrivenOnlyByDeadlinesStaysUnderHalfASecond() {
        var paths = PathManager(), clock = start
        paths.noteActivity(peer, now: clock)
        // A working direct path first (probes answered), then the cut.
        _ = drive(&paths, clock: &clock, until: clock + .seconds(1), answering: [peer], sending: [peer])
        let cutAt = clock
        let (actions, wakes, requestedAt) = drive(&paths, clock: &clock, until: cutAt + .seconds(1), answering: [], sending: [peer])
        #expect(actions.contains { if case .requestRelay(relayA, peer, _) = $0 { true } else { false } })
        #expect(paths.reason(for: peer)?.contains("direct probes unanswered") == true)
        let delay = (requestedAt ?? .distantFuture) - cutAt
        #expect(delay <= .milliseconds(600), "relay requested \(delay) after the cut")
        // Ten reads in the second, each making the next probe due a moment later, and the failure
        // deadline: about twenty wakes while the path is in doubt (a spin would be a thousand).
        #expect(wakes <= 25, "\(wakes) wakes")
    }

    @Test func aProbeWaitingForATokenWakesWhenOneIsThere() {
        var paths = PathManager()
        paths.settings.maximumProbesPerSecond = 10
        let many = (1...50).map { NodeID(UInt64(0x1000 + $0)) }
        for node in many { paths.noteActivity(node, now: start) }
        _ = paths.tick(now: start, relayCandidates: { _, _ in [] }, name: { $0.hex })
        // The burst (one probe interval's worth: 1 token) is spent; 49 peers wait for tokens.
        let deadline = paths.nextDeadline(after: start)
        #expect(deadline > start)
        #expect(deadline <= start + .milliseconds(100), "a token comes every 100 ms: \(deadline - start)")
    }

    @Test func aRelayedPathWakesForItsDirectRetryAndItsRefresh() {
        var paths = PathManager()
        paths.noteActivity(peer, now: start)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: start)
        _ = paths.tick(now: start, relayCandidates: { _, _ in [] }, name: { $0.hex })
        let deadline = paths.nextDeadline(after: start)
        #expect(deadline > start)
        #expect(deadline <= start + paths.settings.initialRetryBackoff, "the direct retry: \(deadline - start)")
    }

    @Test func firstHandshakesSayWhenTheNextTryIsDue() {
        let low = try! X25519PublicKey(bytes: [UInt8](repeating: 0x11, count: 32))
        let high = try! X25519PublicKey(bytes: [UInt8](repeating: 0xEE, count: 32))
        var end = FirstHandshakes(ownKey: low)
        #expect(end.nextDeadline == .distantFuture)
        end.start(high, now: start)
        let deadline = end.nextDeadline
        #expect(!end.anyDue(now: deadline - .milliseconds(1)))
        #expect(end.anyDue(now: deadline))
        #expect(deadline == start + end.timing.initiatorRetries[0])
    }

    @Test func choresComeDueOnTheirOwnIntervals() {
        var chores = PeriodicChores()
        #expect(chores.takeDue(now: start) == PeriodicChores.Chore.allCases, "everything at the start")
        #expect(chores.takeDue(now: start).isEmpty)
        #expect(chores.nextDeadline == start + AgentTiming.relayReachabilityCheck)
        let second = start + .seconds(1)
        #expect(Set(chores.takeDue(now: second)) == [.relayReachability, .relayExpiry])
        #expect(chores.takeDue(now: start + .seconds(29)).contains(.heapTrim) == false)
        #expect(chores.takeDue(now: start + .seconds(30)).contains(.heapTrim))
    }

    @Test func renewalSaysWhenItBecomesDueAndWhenItRetries() throws {
        let authority = Ed25519PrivateKey(), identity = Ed25519PrivateKey()
        let certificate = try NodeCertificate(
            networkID: NetworkID(bytes: [UInt8](repeating: 7, count: 16))!, serial: 1, name: "web-1", identityKey: identity.publicKey,
            wireGuardKey: X25519PrivateKey().publicKey, addresses: [IPAddress("100.80.0.9")!], routes: [], roles: [],
            notBefore: start.seconds, notAfter: start.seconds + 90 * 86400, issuer: authority)
        var renewal = CertificateRenewal()
        let due = renewal.nextDeadline(for: certificate, now: start)
        #expect(!CertificateRenewal.isDue(certificate, now: due - .seconds(1)))
        #expect(CertificateRenewal.isDue(certificate, now: due))
        #expect(renewal.nextDeadline(for: certificate, now: due) == due, "due and never tried: now")
        _ = renewal.step(for: certificate, now: due, isAuthority: false, members: MemberTable())
        #expect(renewal.nextDeadline(for: certificate, now: due) == due + AgentTiming.renewalRetry)
    }

    @Test func aRelayedPeerSendingStraightFromANewAddressIsTakenDirect() {
        var paths = PathManager()
        paths.noteActivity(peer, now: start)
        _ = paths.relayGranted(peer, relay: relayA, endpoint: relayEndpoint, requested: true, now: start)
        let actions = paths.directDataFromMovedPeer(peer, now: start + .milliseconds(300))
        #expect(actions == [.release(relay: relayA, peer: peer), .notifyDirect(peer), .reroute(peer)])
        #expect(paths.route(to: peer) == .direct)
        #expect(paths.directDataFromMovedPeer(peer, now: start + .milliseconds(400)).isEmpty, "already direct: nothing")
    }
}

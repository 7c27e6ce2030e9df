@testable import MeshAgent
@testable import MeshAgentCore
import MeshCore
import Testing

/// Which endpoint a peer's WireGuard is pointed at: a working one is never replaced by a newly
/// announced candidate (issue 10).
@Suite struct EndpointChoiceTests {
    let working = SocketEndpoint("192.0.2.10:51820")!
    let fresh = SocketEndpoint("203.0.113.99:4444")!
    let now = Timestamp(seconds: 5000)

    @Test func aNewCandidateDoesNotReplaceAWorkingEndpoint() {
        let first = EndpointChoice.decide(previous: nil, candidates: [working], kernelEndpoint: working, healthy: true, onRelay: false, now: now)
        #expect(first.endpoint == nil)
        // The peer's record now lists a new endpoint, ranked first.
        let second = EndpointChoice.decide(
            previous: first.choice, candidates: [fresh, working], kernelEndpoint: working, healthy: true, onRelay: false, now: now + .seconds(1))
        #expect(second.endpoint == nil, "the working endpoint stays")
        // It stops working: the other candidates get their turn only then.
        let third = EndpointChoice.decide(
            previous: second.choice, candidates: [fresh, working], kernelEndpoint: working, healthy: false, onRelay: false, now: now + .seconds(200))
        #expect(third.endpoint == fresh)
    }

    /// The attack of issue 10: one member floods a victim with endpoint reports. The victim's
    /// record keeps its real endpoint and announces none of the forged ones, and a peer using the
    /// real endpoint keeps it.
    @Test func aFloodOfForgedReportsChangesNothingPeersUse() {
        var observed = ObservedEndpoints()
        let mallory = NodeID(0xE)
        for index in 0..<100 {
            _ = observed.report(SocketEndpoint(address: IPAddress("198.51.100.\(index + 1)")!, port: 51820), from: mallory, now: now)
        }
        let announced = observed.update(now: now, contacts: .init(ipv4: 4, ipv6: 0))
        let record = ObservedEndpoints.recordEndpoints(local: [working], advertised: [], observed: announced)
        #expect(record.map(\.endpoint) == [working])
        let peerSide = EndpointChoice.decide(
            previous: EndpointChoice(candidates: [working], index: 0, since: now), candidates: record.map(\.endpoint), kernelEndpoint: working,
            healthy: true, onRelay: false, now: now + .seconds(1))
        #expect(peerSide.endpoint == nil)
    }

    /// A NATed peer announced only its inside address at first; its outside one (observed,
    /// ranked first) arrives while WireGuard still points at the unproven inside one: the outside
    /// one is tried at once (the hole-punching lab scenario sat on the inside address).
    @Test func aBetterCandidateReplacesAnUnprovenEndpoint() {
        let inside = SocketEndpoint("192.0.2.34:51820")!
        let first = EndpointChoice.decide(previous: nil, candidates: [inside], kernelEndpoint: nil, healthy: false, onRelay: false, now: now)
        #expect(first.endpoint == inside)
        let second = EndpointChoice.decide(
            previous: first.choice, candidates: [fresh, inside], kernelEndpoint: inside, healthy: false, onRelay: false, now: now + .seconds(1))
        #expect(second.endpoint == fresh)
    }

    /// Back from a relay, a direct attempt that brought no data moves the next heal to the next
    /// candidate; one that brought data is kept.
    @Test func aFailedDirectAttemptFromTheRelayTriesTheNextCandidate() {
        let relay = SocketEndpoint("198.51.100.1:40000")!
        let inside = SocketEndpoint("192.0.2.34:51820")!
        let candidates = [inside, fresh]
        let relayed = EndpointChoice(candidates: candidates, index: 0, since: now)
        // Heal: WireGuard still points at the relay (a fresh session made through it).
        let heal = EndpointChoice.decide(previous: relayed, candidates: candidates, kernelEndpoint: relay, healthy: false, onRelay: true, now: now)
        #expect(heal.endpoint == inside)
        // A second reconcile of the same heal (the device not read again yet) changes nothing.
        let again = EndpointChoice.decide(
            previous: heal.choice, candidates: candidates, kernelEndpoint: relay, healthy: false, onRelay: true, now: now + .milliseconds(50))
        #expect(again.endpoint == inside)
        // On the candidate, the session's recent handshake (made through the relay) is no proof.
        let onCandidate = EndpointChoice.decide(
            previous: again.choice, candidates: candidates, kernelEndpoint: inside, healthy: true, onRelay: false, receivedAt: now - .seconds(1),
            now: now + .milliseconds(500))
        #expect(onCandidate.endpoint == inside, "still unproven: configured again, not kept as working")
        // No data came: the pair went back to the relay. The next heal tries the next candidate.
        let nextHeal = EndpointChoice.decide(
            previous: onCandidate.choice, candidates: candidates, kernelEndpoint: relay, healthy: false, onRelay: true, now: now + .seconds(20))
        #expect(nextHeal.endpoint == fresh)
        // Data arrives there: it is working, and a later heal returns to it.
        let proven = EndpointChoice.decide(
            previous: nextHeal.choice, candidates: candidates, kernelEndpoint: fresh, healthy: true, onRelay: false,
            receivedAt: now + .seconds(21), now: now + .seconds(22))
        #expect(proven.endpoint == nil)
        let laterHeal = EndpointChoice.decide(
            previous: proven.choice, candidates: candidates, kernelEndpoint: relay, healthy: false, onRelay: true, now: now + .seconds(100))
        #expect(laterHeal.endpoint == fresh)
    }
}

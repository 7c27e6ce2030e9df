@testable import MeshAgent
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
}

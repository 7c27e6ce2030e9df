import MeshCore
@testable import MeshSim
import Testing

/// The simulator's NATs behave as RFC 4787 describes their kinds.
@Suite struct NATModelTests {
    let inside = SocketEndpoint("10.0.0.2:51820")!
    let relay = SocketEndpoint("10.0.0.1:51820")!, peer = SocketEndpoint("203.0.113.3:51820")!
    let stranger = SocketEndpoint("10.0.0.9:4000")!
    let now = Timestamp(seconds: 1000)

    func nat(_ kind: NATModel.Kind) -> NATModel { NATModel(kind: kind, publicAddress: IPAddress("203.0.113.2")!) }

    @Test func endpointIndependentKeepsThePortAndLetsAnyoneIn() {
        var nat = nat(.endpointIndependent)
        let outside = nat.outbound(from: inside, to: relay, now: now)
        #expect(outside == SocketEndpoint("203.0.113.2:51820"))
        #expect(nat.outbound(from: inside, to: peer, now: now) == outside)
        #expect(nat.inbound(to: 51820, from: stranger, now: now) == inside)
        #expect(nat.inbound(to: 51821, from: relay, now: now) == nil)  // no mapping there
    }

    @Test func addressDependentLetsInOnlyAddressesTheHostSentTo() {
        var nat = nat(.addressDependent)
        let outside = nat.outbound(from: inside, to: relay, now: now)
        #expect(outside.port == 51820)
        #expect(nat.inbound(to: 51820, from: SocketEndpoint(address: relay.address, port: 9999), now: now) == inside)
        #expect(nat.inbound(to: 51820, from: peer, now: now) == nil)
        // The host sends to the peer (a punch): the peer's packets come in on the same mapping.
        #expect(nat.outbound(from: inside, to: peer, now: now) == outside)
        #expect(nat.inbound(to: 51820, from: peer, now: now) == inside)
    }

    @Test func symmetricMapsEachDestinationToItsOwnPort() {
        var nat = nat(.symmetric)
        let towardsRelay = nat.outbound(from: inside, to: relay, now: now)
        let towardsPeer = nat.outbound(from: inside, to: peer, now: now)
        #expect(towardsRelay.port != towardsPeer.port)
        #expect(towardsRelay.port != inside.port)
        #expect(nat.inbound(to: towardsRelay.port, from: relay, now: now) == inside)
        // The port the relay sees is of no use to the peer, nor to the relay from another port.
        #expect(nat.inbound(to: towardsRelay.port, from: peer, now: now) == nil)
        #expect(nat.inbound(to: towardsRelay.port, from: SocketEndpoint(address: relay.address, port: 9999), now: now) == nil)
    }

    @Test func mappingsExpireWithoutOutboundTraffic() {
        var nat = nat(.endpointIndependent)
        _ = nat.outbound(from: inside, to: relay, now: now)
        #expect(nat.inbound(to: 51820, from: relay, now: now + nat.idleTimeout - .seconds(1)) == inside)
        #expect(nat.inbound(to: 51820, from: relay, now: now + nat.idleTimeout) == nil)
    }
}

@testable import MeshAgent
@testable import MeshAgentCore
import MeshCore
import Testing

/// Who a relay allocates for: never a pair of a member with itself, and at most
/// `maximumPairsPerMember` pairs requested by one member (issue 10).
@Suite struct RelayAdmissionTests {
    @Test func aMemberCannotPairWithItselfOrHoldPairsWithEveryone() {
        var limits = RelayService.Limits()
        limits.maximumPairsPerMember = 4
        let mallory = NodeID(0xE)
        #expect(RelayService.admissionRefusal(requester: mallory, peer: mallory, allocated: [], limits: limits) == .pairWithItself)
        var allocated: [RelayService.Pair] = []
        for index in 1...100 {
            let peer = NodeID(UInt64(0x100 + index))
            if RelayService.admissionRefusal(requester: mallory, peer: peer, allocated: allocated, limits: limits) == nil {
                allocated.append(RelayService.Pair(mallory, peer))
            }
        }
        #expect(allocated.count == 4)
        #expect(RelayService.admissionRefusal(requester: mallory, peer: NodeID(0x999), allocated: allocated, limits: limits) == .memberPairLimit)
        // Another member is not held back by mallory's pairs.
        #expect(RelayService.admissionRefusal(requester: NodeID(0x7), peer: NodeID(0x101), allocated: allocated, limits: limits) == nil)
    }

    @Test func theRelayIsCappedOverall() {
        var limits = RelayService.Limits()
        limits.maximumAllocations = 2
        let allocated = [RelayService.Pair(NodeID(1), NodeID(2)), RelayService.Pair(NodeID(3), NodeID(4))]
        #expect(RelayService.admissionRefusal(requester: NodeID(5), peer: NodeID(6), allocated: allocated, limits: limits) == .full)
    }

    @Test func relayEndpointsRememberedAreBounded() {
        var endpoints = RecentRelayEndpoints(capacity: 8)
        for port in 40000..<40100 { endpoints.insert(SocketEndpoint(address: IPAddress("198.51.100.1")!, port: UInt16(port))) }
        #expect(endpoints.count == 8)
        #expect(endpoints.contains(SocketEndpoint("198.51.100.1:40099")!))
        #expect(!endpoints.contains(SocketEndpoint("198.51.100.1:40000")!))
    }
}

@testable import MeshAgent
@testable import MeshAgentCore
import MeshCore
import Testing

/// Who a relay allocates for: never a pair of a member with itself, and at most
/// `maximumPairsPerMember` pairs requested by one member (issue 10).
@Suite struct RelayAdmissionTests {
    static let address = IPAddress("198.51.100.9")!

    /// Asks `table` for a pair and, when it is new, binds it at once; whether it was admitted.
    static func admit(_ table: inout RelayTable, _ requester: NodeID, _ peer: NodeID) -> RelayTable.Refusal? {
        let now = Timestamp(seconds: 1000)
        switch table.request(requester: requester, requesterAddress: address, peer: peer, peerAddress: address, now: now) {
        case .bind:
            _ = table.bound(RelayTable.Pair(requester, peer), ports: [requester: 40001, peer: 40002], now: now)
            return nil
        case .existing, .binding: return nil
        case let .refused(refusal): return refusal
        }
    }

    @Test func aMemberCannotPairWithItselfOrHoldPairsWithEveryone() {
        var limits = RelayTable.Limits()
        limits.maximumPairsPerMember = 4
        var table = RelayTable(limits: limits)
        let mallory = NodeID(0xE)
        let outcome1 = Self.admit(&table, mallory, mallory)
        #expect(outcome1 == .pairWithItself)
        var admitted = 0
        for index in 1...100 where Self.admit(&table, mallory, NodeID(UInt64(0x100 + index))) == nil { admitted += 1 }
        #expect(admitted == 4)
        let outcome2 = Self.admit(&table, mallory, NodeID(0x999))
        #expect(outcome2 == .memberPairLimit)
        // Another member is not held back by mallory's pairs.
        let outcome3 = Self.admit(&table, NodeID(0x7), NodeID(0x101))
        #expect(outcome3 == nil)
        // A released pair frees its place.
        table.release(RelayTable.Pair(mallory, NodeID(0x101)))
        let outcome4 = Self.admit(&table, mallory, NodeID(0x999))
        #expect(outcome4 == nil)
    }

    @Test func theRelayIsCappedOverall() {
        var limits = RelayTable.Limits()
        limits.maximumAllocations = 2
        var table = RelayTable(limits: limits)
        let outcome5 = Self.admit(&table, NodeID(1), NodeID(2))
        #expect(outcome5 == nil)
        let outcome6 = Self.admit(&table, NodeID(3), NodeID(4))
        #expect(outcome6 == nil)
        let outcome7 = Self.admit(&table, NodeID(5), NodeID(6))
        #expect(outcome7 == .full)
    }

    @Test func relayEndpointsRememberedAreBounded() {
        var endpoints = RecentRelayEndpoints(capacity: 8)
        for port in 40000..<40100 { endpoints.insert(SocketEndpoint(address: IPAddress("198.51.100.1")!, port: UInt16(port))) }
        #expect(endpoints.count == 8)
        #expect(endpoints.contains(SocketEndpoint("198.51.100.1:40099")!))
        #expect(!endpoints.contains(SocketEndpoint("198.51.100.1:40000")!))
    }
}

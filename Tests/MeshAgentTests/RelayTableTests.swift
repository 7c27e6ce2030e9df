@testable import MeshAgentCore
import MeshCore
import Testing

/// The relay's allocation table (issue 11): one allocation per pair however requests cross,
/// leases, releases while ports are being bound, and the addresses each side may send from.
@Suite struct RelayTableTests {
    let alpha = NodeID(0xA), charlie = NodeID(0xC), mallory = NodeID(0xE)
    let alphaAddress = IPAddress("198.51.100.1")!, charlieAddress = IPAddress("198.51.100.3")!
    let now = Timestamp(seconds: 1000)
    var pair: RelayTable.Pair { RelayTable.Pair(alpha, charlie) }

    @Test func bothEndsAskingAtOnceGetOneAllocation() throws {
        var table = RelayTable()
        let outcome1 = table.request(requester: alpha, requesterAddress: alphaAddress, peer: charlie, peerAddress: charlieAddress, now: now)
        #expect(outcome1 == .bind)
        // The other end's request arrives while the ports are being bound: it waits for them.
        let outcome2 = table.request(requester: charlie, requesterAddress: charlieAddress, peer: alpha, peerAddress: alphaAddress, now: now)
        #expect(outcome2 == .binding)
        let bound = table.bound(pair, ports: [alpha: 40001, charlie: 40002], now: now)
        let allocation = try #require(bound)
        #expect(table.count == 1)
        // Any later request gets the same allocation, its lease renewed.
        guard case let .existing(again) = table.request(
            requester: charlie, requesterAddress: charlieAddress, peer: alpha, peerAddress: alphaAddress, now: now + .seconds(5))
        else { Issue.record("a second allocation"); return }
        #expect(again.ports == allocation.ports)
        #expect(again.expiresAt == now + .seconds(5) + table.limits.lease)
    }

    @Test func aPairReleasedWhileBindingGivesItsPortsBack() {
        var table = RelayTable()
        _ = table.request(requester: alpha, requesterAddress: alphaAddress, peer: charlie, peerAddress: charlieAddress, now: now)
        table.release(pair)
        let bound = table.bound(pair, ports: [alpha: 40001, charlie: 40002], now: now)
        #expect(bound == nil, "the shell closes the ports")
        #expect(table.count == 0)
        // Its members' places are free again, and the pair may be asked for anew.
        #expect(table.pairs(involving: alpha).isEmpty)
        let outcome3 = table.request(requester: alpha, requesterAddress: alphaAddress, peer: charlie, peerAddress: charlieAddress, now: now)
        #expect(outcome3 == .bind)
    }

    @Test func aFailedBindingIsForgotten() {
        var limits = RelayTable.Limits()
        limits.maximumPairsPerMember = 1
        var table = RelayTable(limits: limits)
        _ = table.request(requester: alpha, requesterAddress: alphaAddress, peer: charlie, peerAddress: charlieAddress, now: now)
        table.bindingFailed(pair)
        #expect(!table.isBinding(pair))
        let outcome4 = table.request(requester: alpha, requesterAddress: alphaAddress, peer: mallory, peerAddress: charlieAddress, now: now)
        #expect(outcome4 == .bind)
    }

    @Test func leasesRunOutUnlessRenewed() {
        var table = RelayTable()
        _ = table.request(requester: alpha, requesterAddress: alphaAddress, peer: charlie, peerAddress: charlieAddress, now: now)
        _ = table.bound(pair, ports: [alpha: 40001, charlie: 40002], now: now)
        let renewed = table.renew(pair, now: now + .seconds(20))
        #expect(renewed?.expiresAt == now + .seconds(50))
        let early = table.expire(now: now + .seconds(49)), due = table.expire(now: now + .seconds(50))
        #expect(early.isEmpty)
        #expect(due.map(\.pair) == [pair])
        let late = table.renew(pair, now: now + .seconds(51))
        #expect(table.count == 0 && late == nil)
    }

    @Test func aMemberMayThenSendOnlyFromWhereItWasLastAuthenticated() {
        var table = RelayTable()
        _ = table.request(requester: alpha, requesterAddress: alphaAddress, peer: charlie, peerAddress: charlieAddress, now: now)
        _ = table.bound(pair, ports: [alpha: 40001, charlie: 40002], now: now)
        let moved = IPAddress("203.0.113.7")!
        let first = table.allow(alpha, from: moved), second = table.allow(alpha, from: moved)
        #expect(first == [pair])
        #expect(second.isEmpty, "nothing changed the second time")
        #expect(table.allocation(of: pair)?.allowed == [alpha: moved, charlie: charlieAddress])
        let stranger = table.allow(mallory, from: moved)
        #expect(stranger.isEmpty)
    }

    @Test func aMemberThatLeavesTakesItsPairsWithIt() {
        var table = RelayTable()
        for peer in [charlie, mallory] {
            _ = table.request(requester: alpha, requesterAddress: alphaAddress, peer: peer, peerAddress: charlieAddress, now: now)
            _ = table.bound(RelayTable.Pair(alpha, peer), ports: [alpha: 40001, peer: 40002], now: now)
        }
        _ = table.request(requester: charlie, requesterAddress: charlieAddress, peer: mallory, peerAddress: charlieAddress, now: now)
        let released = table.release(involving: alpha)
        #expect(released.count == 2)
        #expect(table.count == 0 && table.isBinding(RelayTable.Pair(charlie, mallory)))
        let alsoReleased = table.release(involving: mallory)
        #expect(alsoReleased.isEmpty, "the binding pair ends too, with no allocation to close")
        #expect(!table.isBinding(RelayTable.Pair(charlie, mallory)))
    }
}

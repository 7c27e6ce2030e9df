@testable import MeshCore
import Testing

/// Endpoint reports (0x0D): one member's flood of reports cannot outvote or wipe the honest
/// reports that make a reflexive gossip endpoint (issue 10).
@Suite struct EndpointReportTests {
    let network = TestNetwork()

    @Test func aFloodOfReportsFromOneMemberNeitherAdoptsItsEndpointNorWipesHonestReports() {
        let me = network.node(1), honestA = network.node(2), honestB = network.node(3), mallory = network.node(4)
        let node = network.meshNode(me, members: [honestA, honestB, mallory])
        let real = SocketEndpoint("203.0.113.7:51821")!
        // All three reach this node directly (a report only ever arrives in an authenticated datagram).
        for (index, member) in [honestA, honestB, mallory].enumerated() {
            node.noteContact(member.id, at: SocketEndpoint(address: IPAddress("192.0.2.\(index + 1)")!, port: 51821), now: network.now)
        }
        node.handleEndpointReport(real, from: honestA.id, now: network.now)
        for index in 0..<500 {
            let forged = SocketEndpoint(address: IPAddress("198.51.100.\(index % 200 + 1)")!, port: UInt16(2000 + index))
            node.handleEndpointReport(forged, from: mallory.id, now: network.now)
            node.handleEndpointReport(forged, from: mallory.id, now: network.now)
        }
        #expect(node.reflexiveEndpoint == nil, "one member alone is never enough")
        node.handleEndpointReport(real, from: honestB.id, now: network.now)
        #expect(node.reflexiveEndpoint == real, "the honest report from before the flood still counts")
        #expect(node.reflexiveReports.count <= MeshNode.maximumReflexiveReporters)
    }

    /// Behind NAT, with only one member reaching this node so far (the other member is behind NAT
    /// too, and needs this node's outside endpoint to reach it), that member's report is enough.
    @Test func theOnlyMemberInContactIsEnough() {
        let me = network.node(1), publicMember = network.node(2), natedMember = network.node(3)
        let node = network.meshNode(me, members: [publicMember, natedMember])
        let outside = SocketEndpoint("203.0.113.7:51821")!
        node.noteContact(publicMember.id, at: SocketEndpoint("203.0.113.1:51821")!, now: network.now)
        node.handleEndpointReport(outside, from: publicMember.id, now: network.now)
        #expect(node.reflexiveEndpoint == outside)
    }

    /// One report of a new outside endpoint is a hint: the other members in direct contact are
    /// pinged at once (their answers carry their own reports), at most once per probe interval.
    @Test func aLoneReportAsksOtherMembersInContactToCorroborate() {
        let me = network.node(1), reporter = network.node(2), others = [network.node(3), network.node(4)]
        let node = network.meshNode(me, members: [reporter] + others)
        for (index, member) in ([reporter] + others).enumerated() {
            node.noteContact(member.id, at: SocketEndpoint(address: IPAddress("192.0.2.\(index + 10)")!, port: 51821), now: network.now)
        }
        _ = node.drainOutput()
        node.handleEndpointReport(SocketEndpoint("203.0.113.7:51821")!, from: reporter.id, now: network.now)
        #expect(node.reflexiveEndpoint == nil)
        let asked = Set(node.drainOutput().datagrams.map(\.endpoint.address))
        #expect(asked == [IPAddress("192.0.2.11")!, IPAddress("192.0.2.12")!])
        // Another report within the probe interval asks nobody.
        node.handleEndpointReport(SocketEndpoint("203.0.113.8:51821")!, from: reporter.id, now: network.now + .milliseconds(500))
        #expect(node.drainOutput().datagrams.isEmpty)
    }

    /// A member's authenticated datagrams from another address are announced to the agent (a
    /// relay serving it accepts it from there); another port on the same address is not a move.
    @Test func aMemberSeenFromAnotherAddressHasMoved() {
        let me = network.node(1), member = network.node(2)
        let node = network.meshNode(me, members: [member])
        node.noteContact(member.id, at: SocketEndpoint("192.0.2.10:51821")!, now: network.now)
        node.noteContact(member.id, at: SocketEndpoint("192.0.2.10:40000")!, now: network.now)
        #expect(!node.drainOutput().events.contains { if case .memberMoved = $0 { true } else { false } })
        node.noteContact(member.id, at: SocketEndpoint("198.51.100.10:51821")!, now: network.now)
        #expect(node.drainOutput().events.contains(.memberMoved(member.id, SocketEndpoint("198.51.100.10:51821")!)))
    }
}

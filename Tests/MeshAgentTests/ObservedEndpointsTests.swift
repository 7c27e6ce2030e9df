@testable import MeshAgent
@testable import MeshAgentCore
import MeshCore
import Testing

/// Endpoint reports (0x20) from members: one member's reports change only what it sees itself;
/// an endpoint is announced only when corroborated, in bounded slots (issue 10).
@Suite struct ObservedEndpointsTests {
    let honestA = NodeID(0xA), honestB = NodeID(0xB), mallory = NodeID(0xE)
    let real = SocketEndpoint("203.0.113.7:51820")!
    let now = Timestamp(seconds: 10_000)

    func contacts(_ ipv4: Int, ipv6: Int = 0) -> ObservedEndpoints.OutsideContacts {
        ObservedEndpoints.OutsideContacts(ipv4: ipv4, ipv6: ipv6)
    }

    @Test func aFloodOfForgedReportsFromOneMemberIsNeverAnnounced() {
        var observed = ObservedEndpoints()
        _ = observed.report(real, from: honestA, now: now)
        for index in 0..<10_000 {
            _ = observed.report(SocketEndpoint(address: IPAddress("192.0.2.\(index % 250 + 1)")!, port: UInt16(1000 + index % 60000)),
                                from: mallory, now: now + .milliseconds(Double(index)))
            #expect(observed.update(now: now + .milliseconds(Double(index)), contacts: contacts(3)).isEmpty)
        }
        _ = observed.report(real, from: honestB, now: now + .seconds(11))
        #expect(observed.update(now: now + .seconds(12), contacts: contacts(3)) == [real])
        #expect(observed.reports.count == 3, "one slot per reporter")
    }

    @Test func oneReporterIsNotEnoughWhileOthersCouldCorroborate() {
        var observed = ObservedEndpoints()
        let forged = SocketEndpoint("198.51.100.99:9")!
        _ = observed.report(forged, from: mallory, now: now)
        #expect(observed.update(now: now, contacts: contacts(5)).isEmpty)
        // IPv6 peers cannot see an IPv4 NAT: they do not raise what an IPv4 report needs.
        #expect(observed.requiredReporters(for: forged.address, contacts: contacts(5, ipv6: 9)) == 2)
        #expect(observed.requiredReporters(for: forged.address, contacts: contacts(1, ipv6: 9)) == 1)
    }

    @Test func theOnlyPeerThatCanSeeThisNodeStartsNATTraversalAndTheEndpointStaysWhileReported() {
        var observed = ObservedEndpoints()
        // Behind NAT, reached from outside by one public member so far: its report is announced.
        _ = observed.report(real, from: honestA, now: now)
        #expect(observed.update(now: now, contacts: contacts(1)) == [real])
        // The other end punched through (now two outside contacts): the endpoint it uses is not
        // withdrawn while its own report is on the way, and its report corroborates it.
        #expect(observed.update(now: now + .seconds(1), contacts: contacts(2)) == [real])
        _ = observed.report(real, from: honestB, now: now + .seconds(2))
        #expect(observed.update(now: now + .seconds(2), contacts: contacts(2)) == [real])
        // A new claim from one member is still not enough.
        _ = observed.report(SocketEndpoint("198.51.100.99:9")!, from: mallory, now: now + .seconds(3))
        #expect(observed.update(now: now + .seconds(3), contacts: contacts(3)) == [real])
    }

    @Test func reportsAgeOutAndUnusableEndpointsAreRefused() {
        var observed = ObservedEndpoints()
        _ = observed.report(real, from: honestA, now: now)
        _ = observed.report(real, from: honestB, now: now)
        #expect(observed.update(now: now + .seconds(299), contacts: contacts(2)) == [real])
        #expect(observed.update(now: now + .seconds(301), contacts: contacts(2)).isEmpty)
        #expect(observed.report(SocketEndpoint("127.0.0.1:51820")!, from: mallory, now: now) == .refused(.invalidEndpointReport))
        #expect(observed.report(SocketEndpoint(address: IPAddress("203.0.113.7")!, port: 0), from: mallory, now: now) == .refused(.invalidEndpointReport))
    }

    @Test func theReporterMapIsCapped() {
        var observed = ObservedEndpoints()
        observed.settings.maximumReporters = 64
        for index in 0..<1000 { _ = observed.report(real, from: NodeID(UInt64(0x1000 + index)), now: now + .milliseconds(Double(index))) }
        #expect(observed.reports.count == 64)
    }

    @Test func observedEndpointsNeverPushLocalOrConfiguredOnesOutOfTheRecord() {
        let local = (1...7).map { SocketEndpoint(address: IPAddress("10.0.0.\($0)")!, port: 51820) }
        let advertised = [SocketEndpoint("198.51.100.5:51820")!]
        let observed = [SocketEndpoint("203.0.113.1:4000")!, SocketEndpoint("203.0.113.2:4000")!]
        let full = ObservedEndpoints.recordEndpoints(local: local, advertised: advertised, observed: observed)
        #expect(full.map(\.endpoint) == local + advertised)
        let few = ObservedEndpoints.recordEndpoints(
            local: Array(local.prefix(2)), advertised: [], observed: observed + [SocketEndpoint("203.0.113.3:4000")!])
        #expect(few.filter { $0.kind == .observed }.map(\.endpoint) == observed, "at most two observed slots")
        #expect(few.filter { $0.kind == .local }.count == 2)
    }
}

@testable import MeshAgent
import MeshCore
import WireGuardControl
import Testing

/// Issue 12: the gateway's own nftables table, replaced whole; nothing served deletes it.
@Suite struct GatewayForwardingTests {
    @Test func theTableAcceptsAndMasqueradesOnlyTheServedPrefixes() {
        let text = GatewayForwarding.ruleset(
            interface: "mesh0", prefixes: [IPPrefix("192.168.10.0/24")!, IPPrefix("2001:db8:10::/64")!], masquerade: true)
        #expect(text.hasPrefix("table inet meshwork_gateway\ndelete table inet meshwork_gateway\ntable inet meshwork_gateway {"))
        #expect(text.contains("iifname \"mesh0\" ip daddr { 192.168.10.0/24 } accept"))
        #expect(text.contains("iifname \"mesh0\" oifname != \"mesh0\" ip6 daddr { 2001:db8:10::/64 } masquerade"))
        #expect(text.contains("oifname \"mesh0\" ct state established,related accept"))
        let plain = GatewayForwarding.ruleset(interface: "mesh0", prefixes: [IPPrefix("192.168.10.0/24")!], masquerade: false)
        #expect(!plain.contains("masquerade") && !plain.contains("postrouting"))
        // An exit that also serves a LAN: only the outermost prefix per family (nftables refuses
        // overlapping intervals in one set), never masquerading towards the mesh.
        let exit = GatewayForwarding.ruleset(interface: "mesh0", prefixes: IPPrefix.defaultRoutes + [IPPrefix("192.168.10.0/24")!], masquerade: true)
        #expect(exit.contains("iifname \"mesh0\" ip daddr { 0.0.0.0/0 } accept"))
        #expect(exit.contains("iifname \"mesh0\" ip6 daddr { ::/0 } accept"))
        #expect(!exit.contains("192.168.10.0/24"))
        #expect(GatewayForwarding.ruleset(interface: "mesh0", prefixes: [], masquerade: true)
            == "table inet meshwork_gateway\ndelete table inet meshwork_gateway\n")
    }
}

/// Issue 12: the exit's policy rules, per family used, none without a mark.
@Suite struct ExitRulesTests {
    @Test func theRulesFollowTheFamiliesOfTheDefaultRoutes() {
        let both = DeviceController.exitRules(for: Set(IPPrefix.defaultRoutes), table: 51820, mark: 0xca6c, proto: 77)
        #expect(both.count == 4)
        #expect(both.contains(PolicyRule(isIPv6: false, priority: 32764, table: 254, suppressPrefixLength: 0, protocol: 77)))
        #expect(both.contains(PolicyRule(isIPv6: true, priority: 32765, table: 51820, fwmark: 0xca6c, invert: true, protocol: 77)))
        let v4 = DeviceController.exitRules(for: [IPPrefix.defaultIPv4], table: 51820, mark: 0xca6c, proto: 77)
        #expect(v4.count == 2 && v4.allSatisfy { !$0.isIPv6 })
        #expect(DeviceController.exitRules(for: [], table: 51820, mark: 0xca6c, proto: 77).isEmpty)
        #expect(DeviceController.exitRules(for: Set(IPPrefix.defaultRoutes), table: 51820, mark: 0, proto: 77).isEmpty)
    }
}

/// The health checks' echo requests carry the Internet checksum (RFC 1071's worked example).
@Suite struct EchoProberTests {
    @Test func theChecksumIsRFC1071s() {
        #expect(EchoProber.checksum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]) == 0x220D)
        // An odd length pads with a zero byte; a packet with its checksum filled in sums to zero.
        #expect(EchoProber.checksum([0xAB]) == ~UInt16(0xAB00))
        var packet: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0, 1, 0x6D, 0x65]
        let sum = EchoProber.checksum(packet)
        packet[2] = UInt8(sum >> 8)
        packet[3] = UInt8(sum & 0xFF)
        #expect(EchoProber.checksum(packet) == 0)
    }
}

extension EchoProberTests {
    @Test func echoRepliesAreReadAndEverythingElseIsNot() {
        let header: [UInt8] = [0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 192, 168, 10, 10, 192, 168, 10, 2]
        let reply: [UInt8] = [0, 0, 0, 0, 0x12, 0x34, 0, 7]
        let read = EchoProber.echoReply(header + reply, v6: false)
        #expect(read?.identifier == 0x1234 && read?.sequence == 7 && read?.source == IPAddress("192.168.10.10"))
        #expect(EchoProber.echoReply([129, 0, 0, 0, 0x12, 0x34, 0, 7], v6: true)?.sequence == 7)
        #expect(EchoProber.echoReply(header + [8] + reply.dropFirst(), v6: false) == nil, "a request is no reply")
        #expect(EchoProber.echoReply(Array(header.prefix(19)), v6: false) == nil)
        #expect(EchoProber.echoReply([0x4F] + header.dropFirst() + reply, v6: false) == nil, "a header longer than the datagram")
        #expect(EchoProber.echoReply([0x42] + header.dropFirst() + reply, v6: false) == nil, "a header shorter than 20 bytes")
        #expect(EchoProber.echoReply([129, 0, 0], v6: true) == nil)
    }
}

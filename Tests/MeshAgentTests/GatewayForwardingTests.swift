@testable import MeshAgent
import MeshCore
import Testing

/// Issue 12: the gateway's own nftables table, replaced whole; nothing served deletes it.
@Suite struct GatewayForwardingTests {
    @Test func theTableAcceptsAndMasqueradesOnlyTheServedPrefixes() {
        let text = GatewayForwarding.ruleset(
            interface: "mesh0", prefixes: [IPPrefix("192.168.10.0/24")!, IPPrefix("2001:db8:10::/64")!], masquerade: true)
        #expect(text.hasPrefix("table inet meshwork_gateway\ndelete table inet meshwork_gateway\ntable inet meshwork_gateway {"))
        #expect(text.contains("iifname \"mesh0\" ip daddr { 192.168.10.0/24 } accept"))
        #expect(text.contains("iifname \"mesh0\" ip6 daddr { 2001:db8:10::/64 } masquerade"))
        #expect(text.contains("oifname \"mesh0\" ct state established,related accept"))
        let plain = GatewayForwarding.ruleset(interface: "mesh0", prefixes: [IPPrefix("192.168.10.0/24")!], masquerade: false)
        #expect(!plain.contains("masquerade") && !plain.contains("postrouting"))
        #expect(GatewayForwarding.ruleset(interface: "mesh0", prefixes: [], masquerade: true)
            == "table inet meshwork_gateway\ndelete table inet meshwork_gateway\n")
    }
}

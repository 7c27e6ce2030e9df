import Foundation
import MeshLab
import Testing

/// Issue 13 on kernel WireGuard (tier `kernel`, in the VM): the namespace split (S1) and the VRF
/// with fwmark set-up (S4). Three hosts, alpha, bravo, charlie, on the demo LAN; bravo is the one
/// set up as an operator of that set-up would.
extension AgentLabTests {
    /// Builds alpha, bravo and charlie, bravo with meshd.yaml `bravoConfig` (given the lab, to
    /// create what it names first), enrolls, converges, runs `body`.
    private func withUnderlayPolicyMesh(
        prefix: String, bravoConfig: (Lab) throws -> String, _ body: (DemoMesh, String) throws -> Void
    ) throws {
        try withLab(prefix: prefix) { lab, directory in
            let file = "\(directory)/bravo.yaml"
            try bravoConfig(lab).write(toFile: file, atomically: true, encoding: .utf8)
            let specs = [
                DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1"),
                DemoMesh.HostSpec(name: "bravo", ipv4: "198.51.100.2", ipv6: "2001:db8:100::2", daemonArguments: ["--config", file]),
                DemoMesh.HostSpec(name: "charlie", ipv4: "198.51.100.3", ipv6: "2001:db8:100::3"),
            ]
            let mesh = try DemoMesh(lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, specs: specs)
            do {
                try mesh.enroll(prefix: AgentLab.prefix, prefix6: AgentLab.prefix6)
                try mesh.waitForFullMesh(timeout: 90)
                try body(mesh, file)
            } catch {
                throw LabError.failed("\(error)\n\(mesh.diagnostics())")
            }
        }
    }

    /// S1: bravo's WireGuard interface lives in a private namespace with no underlay at all; meshd,
    /// its sockets and WireGuard's UDP socket stay in bravo's namespace, where the encrypted
    /// packets are counted.
    @Test("namespace split: the interface lives in a private namespace (addresses, peers, pings there); the encrypted traffic stays in meshd's", .enabled(if: AgentLab.setting == "kernel", "kernel WireGuard only: tier kernel"))
    func namespaceSplit() throws {
        var privateNamespace = ""
        try withUnderlayPolicyMesh(prefix: "mwns", bravoConfig: { lab in
            privateNamespace = try lab.addNamespace("bravo-priv")
            try lab.run(["ip", "link", "set", "lo", "up"], in: privateNamespace)
            return "interface:\n  netns: \(privateNamespace)\n"
        }) { mesh, _ in
            let lab = mesh.lab, bravo = mesh["bravo"]
            try lab.nft("table inet mwns_count {\n  chain input {\n    type filter hook input priority 0;\n    udp dport 51820 counter\n  }\n}", in: bravo.namespace)
            let inPrivate = try lab.run(["ip", "-d", "link", "show", bravo.interface], in: privateNamespace, check: false)
            #expect(inPrivate.succeeded && inPrivate.output.contains("wireguard"), "the interface is in the private namespace: \(inPrivate.output)")
            #expect(!(try lab.run(["ip", "link", "show", bravo.interface], in: bravo.namespace, check: false).succeeded), "and not in meshd's")
            let addresses = try lab.run(["ip", "-o", "address", "show", "dev", bravo.interface], in: privateNamespace).output
            #expect(bravo.overlay.allSatisfy { addresses.contains($0) } && addresses.contains("fe80::"), "addresses there: \(addresses)")
            let dump = try lab.run(["wg", "show", bravo.interface, "dump"], in: privateNamespace).output
            #expect(dump.split(separator: "\n").count == 3, "two peers in the private namespace's WireGuard:\n\(dump)")
            for other in ["alpha", "charlie"] {
                #expect(try lab.ping(mesh[other].overlay[0], from: privateNamespace, count: 3).received > 0, "private namespace → \(other)")
                #expect(try lab.ping(bravo.overlay[1], from: mesh[other].namespace, count: 3).received > 0, "\(other) → bravo (IPv6 overlay)")
            }
            let counted = try lab.run(["nft", "list", "table", "inet", "mwns_count"], in: bravo.namespace).output
            #expect(!counted.contains("packets 0 "), "encrypted packets arrive in meshd's namespace: \(counted)")
            // A restart adopts the interface where it is.
            bravo.stopDaemon()
            try bravo.startDaemon()
            let alive = eventually(timeout: 30) { (try? bravo.peers().filter { $0["state"] as? String == "alive" }.count) == 2 }
            #expect(alive, "bravo sees both peers again after a restart")
            #expect(try lab.ping(mesh["alpha"].overlay[0], from: privateNamespace, count: 3).received > 0, "after the restart")
            #expect(bravo.log(lastLines: 400).components(separatedBy: "interface created").count == 2, "created once, adopted after the restart")
        }
    }

    /// S4: bravo's underlay (lan0) is in a VRF (table 1023); WireGuard's packets carry fwmark
    /// 0x1023 and an `ip rule` steers the mark into the VRF's table; meshd's gossip and relay
    /// sockets are bound to the VRF (`underlay.bind_device`) and marked too. nftables counts the
    /// marked packets of WireGuard (port 51820) and of meshd's gossip (51821).
    @Test("VRF and fwmark: the underlay in a VRF, WireGuard's and meshd's packets marked and steered into it; the mesh works", .enabled(if: AgentLab.setting == "kernel", "VRF devices: tier kernel"))
    func vrfAndFwmark() throws {
        try withUnderlayPolicyMesh(prefix: "mwvr", bravoConfig: { _ in "interface:\n  fwmark: 0x1023\n" }) { mesh, file in
            // The demo LAN is built with the hosts: bravo's VRF goes under its lan0 now, and meshd
            // restarts bound to it.
            let lab = mesh.lab, bravo = mesh["bravo"]
            bravo.stopDaemon()
            try "interface:\n  fwmark: 0x1023\nunderlay:\n  bind_device: vrf-ext\n".write(toFile: file, atomically: true, encoding: .utf8)
            for command in [
                ["ip", "link", "add", "vrf-ext", "type", "vrf", "table", "1023"], ["ip", "link", "set", "vrf-ext", "up"],
                ["ip", "link", "set", "lan0", "master", "vrf-ext"],
                ["ip", "-4", "rule", "add", "pref", "999", "fwmark", "0x1023", "table", "1023"],
                ["ip", "-6", "rule", "add", "pref", "999", "fwmark", "0x1023", "table", "1023"],
                ["sysctl", "-q", "-w", "net.ipv4.udp_l3mdev_accept=1"],
            ] { try lab.run(command, in: bravo.namespace) }
            try lab.nft("""
                table inet mwvr_count {
                  chain output {
                    type filter hook output priority 0;
                    meta mark 0x1023 udp sport 51820 counter
                    meta mark 0x1023 udp sport 51821 counter
                  }
                }
                """, in: bravo.namespace)
            try bravo.startDaemon()
            let alive = eventually(timeout: 60) { (try? bravo.peers().filter { $0["state"] as? String == "alive" }.count) == 2 }
            #expect(alive, "bravo sees both peers through its VRF")
            for other in ["alpha", "charlie"] {
                #expect(try lab.ping(mesh[other].overlay[0], from: bravo.namespace, count: 3).received > 0, "bravo → \(other) over the VRF")
            }
            let wg = try lab.run(["wg", "show", bravo.interface, "fwmark"], in: bravo.namespace).output
            #expect(wg.contains("0x1023"), "WireGuard's fwmark: \(wg)")
            let counters = try lab.run(["nft", "list", "table", "inet", "mwvr_count"], in: bravo.namespace).output
            let packets = counters.split(separator: "\n").filter { $0.contains("counter") }
            #expect(packets.count == 2 && packets.allSatisfy { !$0.contains("packets 0 ") }, "marked WireGuard and gossip packets:\n\(counters)")
            let rules = try lab.run(["ip", "rule", "show"], in: bravo.namespace).output
            #expect(rules.contains("fwmark 0x1023 lookup 1023"), "the S4 rule: \(rules)")
        }
    }
}

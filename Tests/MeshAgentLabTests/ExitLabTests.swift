import Foundation
import MeshLab
import Testing

/// Issue 12 (b) and (c): delta, a road warrior behind NAT, reaches a site LAN through bravo, a
/// gateway that masquerades (the site's server has no route back into the mesh), and the
/// "Internet" (203.0.113.80, reached only through the exits' uplinks) through an exit node: bravo
/// (priority 150), then charlie (100) when bravo dies, then bravo again after the hold-down.
extension AgentLabTests {
    static let internetServer = "203.0.113.80"

    /// delta's `meshctl exit --json`.
    func exitReport(of host: MeshLabNode) -> [String: Any] {
        guard let output = try? host.meshctlChecked(["exit", "--json"]) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:]
    }

    @Test("routes: a road warrior behind NAT reaches a site through a masquerading gateway, and the Internet through an exit that fails over to a second one")
    func roadWarriorUsesAGatewayAndAnExit() throws {
        let lab = try Lab(prefix: "mwex")
        defer { lab.teardown() }
        let directory = "/tmp/mwex-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configs = [
            "alpha": "",
            "bravo": "routes:\n  serve:\n    - prefix: \(Self.site)\nexit:\n  serve: true\n  priority: 150\n  check:\n    interface: wan1\n",
            "charlie": "exit:\n  serve: true\n  priority: 100\n",
            "delta": "routes:\n  accept: true\n  hold_down: 5\nexit:\n  use: auto\n",
        ]
        var files: [String: String] = [:]
        for (name, text) in configs {
            files[name] = "\(directory)/\(name).yaml"
            try text.write(toFile: files[name]!, atomically: true, encoding: .utf8)
        }
        let specs = [
            DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1", daemonArguments: ["--config", files["alpha"]!]),
            DemoMesh.HostSpec(name: "bravo", ipv4: "198.51.100.2", ipv6: "2001:db8:100::2", daemonArguments: ["--config", files["bravo"]!]),
            DemoMesh.HostSpec(name: "charlie", ipv4: "198.51.100.3", ipv6: "2001:db8:100::3", daemonArguments: ["--config", files["charlie"]!]),
            DemoMesh.HostSpec(name: "delta", behindNAT: true, daemonArguments: ["--config", files["delta"]!]),
        ]
        let mesh = try DemoMesh(lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, specs: specs)
        do {
            let bravo = mesh["bravo"], charlie = mesh["charlie"], delta = mesh["delta"]
            // The site behind bravo only; the "Internet" behind both exits' uplinks (wan1).
            let site = try lab.addNamespace("site")
            try lab.connect(bravo.namespace, site, addressA: "192.168.10.2/24", addressB: "\(Self.server)/24", nameA: "lan1", nameB: "eth0")
            let internet = try lab.addNamespace("net")
            try lab.run(["ip", "link", "add", "br0", "type", "bridge"], in: internet)
            try lab.run(["ip", "link", "set", "br0", "up"], in: internet)
            try lab.addAddress("\(Self.internetServer)/24", to: "br0", in: internet)
            for (host, number) in [(bravo, 2), (charlie, 3)] {
                let (_, port) = try lab.connect(host.namespace, internet, addressA: "203.0.113.\(number)/24", nameA: "wan1", nameB: "p-\(host.name)")
                try lab.run(["ip", "link", "set", port, "master", "br0"], in: internet)
            }
            // meshd's own packets in delta's namespace, counted when they carry the exit's fwmark.
            try lab.nft("table inet markcheck {\n  chain out {\n    type filter hook output priority 0;\n    meta mark 0x0000ca6c udp dport 51821 counter\n  }\n}\n", in: delta.namespace)
            #expect(!reaches(Self.internetServer, from: delta, in: mesh, count: 1), "delta reaches the Internet server without an exit")

            try mesh.enroll(prefix: AgentLab.prefix, prefix6: AgentLab.prefix6, routes: ["bravo": [Self.site]], exits: ["bravo", "charlie"])
            try mesh.waitForFullMesh(timeout: 90)

            // (b) The site, through bravo's masquerade: the server only knows its own LAN.
            #expect(eventually(timeout: 30) { reaches(Self.server, from: delta, in: mesh) }, "delta does not reach the site behind bravo")

            // (c) The Internet through the exit bravo; WireGuard's and meshd's packets keep the real route.
            var report: [String: Any] = [:]
            #expect(eventually(timeout: 30) { report = exitReport(of: delta); return report["active"] as? String == "bravo" }, "delta's exit: \(report)")
            #expect(eventually(timeout: 20) { reaches(Self.internetServer, from: delta, in: mesh) }, "delta does not reach the Internet through bravo")
            let statusExit = try delta.status()["exit"] as? [String: Any]
            #expect(statusExit?["use"] as? String == "auto" && statusExit?["active"] as? String == "bravo", "status --json exit: \(statusExit ?? [:])")
            let rules = try lab.run(["ip", "rule", "show"], in: delta.namespace).output
            #expect(rules.contains("not from all fwmark 0xca6c lookup 51820 proto 77") && rules.contains("lookup main suppress_prefixlength 0 proto 77"), "delta's rules: \(rules)")
            let mark = try lab.run(["wg", "show", delta.interface, "fwmark"], in: delta.namespace).output
            #expect(mark.contains("0xca6c"), "delta's WireGuard fwmark: \(mark)")
            let peers = try delta.peers()
            let charliePath = peers.first { $0["name"] as? String == "charlie" }?["path"] as? String
            #expect(charliePath == "direct", "delta's other peers stay direct: \(peers)")
            let counted = try lab.run(["nft", "list", "table", "inet", "markcheck"], in: delta.namespace).output
            #expect(!counted.contains("counter packets 0 "), "no marked gossip packet left delta: \(counted)")

            // bravo dies (meshd and WireGuard): the exit moves to charlie.
            let stream = try PingStream(lab: lab, target: Self.internetServer, from: delta.namespace, interval: 0.05)
            usleep(2_000_000)
            let killedAt = Date().timeIntervalSince1970
            if let pid = bravo.daemon?.processIdentifier { kill(pid, SIGKILL) }
            try lab.run(["ip", "link", "delete", bravo.interface], in: bravo.namespace, check: false)
            let moved = eventually(timeout: 30) { report = exitReport(of: delta); return report["active"] as? String == "charlie" }
            #expect(moved, "the exit did not move to charlie: \(report)")
            #expect(eventually(timeout: 20) { reaches(Self.internetServer, from: delta, in: mesh) }, "delta does not reach the Internet through charlie")
            let summary = try stream.finish(interrupt: true)
            if let first = summary.firstReply(after: killedAt + 0.2) {
                print(String(format: "exit: bravo killed → first reply through charlie after %.3f s (%@)", first - killedAt, "\(summary)"))
                // Not a failure (timings are the benchmark's), but a slow one is worth its logs:
                // one run in about ten took 11 s (2026-12-07).
                if first - killedAt > 2 { print("exit: slow failover; delta's log:\n\(delta.log(lastLines: 60))\ncharlie's log:\n\(charlie.log(lastLines: 30))") }
            }
            #expect(charlie.log(lastLines: 400).contains("gateway forwarding updated"), "charlie never set up forwarding")

            // bravo back: the exit moves back after the hold-down (5 s).
            try bravo.startDaemon()
            #expect(eventually(timeout: 60) { exitReport(of: delta)["active"] as? String == "bravo" }, "the exit did not move back to bravo")
            #expect(eventually(timeout: 30) { reaches(Self.internetServer, from: delta, in: mesh) }, "delta does not reach the Internet through bravo again")

            // exit use none: meshd's rules and table go, nothing else; the Internet is out of reach again.
            _ = try delta.meshctlChecked(["exit", "use", "none"])
            #expect(eventually(timeout: 20) {
                !((try? lab.run(["ip", "rule", "show"], in: delta.namespace).output) ?? "proto 77").contains("proto 77")
            }, "meshd's rules stayed after exit use none")
            let table = try lab.run(["ip", "route", "show", "table", "51820"], in: delta.namespace, check: false).output
            #expect(table.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "table 51820 after exit use none: \(table)")
            #expect(!reaches(Self.internetServer, from: delta, in: mesh, count: 1), "delta still reaches the Internet server")
            #expect(reaches(Self.server, from: delta, in: mesh), "the site route went with the exit")
        } catch {
            throw LabError.failed("\(error)\n\(mesh.diagnostics())")
        }
    }
}

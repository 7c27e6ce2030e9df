import Foundation
import MeshLab
import Testing

/// Issue 13: BIRD 2 on three members with LANs, speaking eBGP over the mesh's link-local
/// addresses, meshd in `routing.mode: daemon` (``DemoMesh/routingDaemonMesh(lab:binaries:directory:backend:prefix:prefix6:)``).
extension AgentLabTests {
    @Test("routing daemon: BIRD peers over link-local addresses, LANs reach each other through the mesh, ECMP picks one member, routes outside the grant are refused, a cut direct path relays, routes move within a second")
    func birdOverLinkLocal() throws {
        try withRoutingDaemonMesh(prefix: "mwbd", speaking: .bgp, checkRoutingDaemon)
    }

    /// Builds the routing-daemon mesh in a fresh lab, runs `body`, and tears it all down; a
    /// failure carries BIRD's and meshd's state.
    private func withRoutingDaemonMesh(
        prefix: String, speaking routing: BirdRouter.RoutingProtocol,
        _ body: (DemoMesh, [String: String], [String: BirdRouter]) throws -> Void
    ) throws {
        try withLab(prefix: prefix) { lab, directory in
            let (mesh, lanHosts, birds) = try DemoMesh.routingDaemonMesh(
                lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, prefix: AgentLab.prefix,
                prefix6: AgentLab.prefix6, speaking: routing)
            do {
                try body(mesh, lanHosts, birds)
            } catch {
                throw LabError.failed("\(error)\n\(birdState(birds))\n\(mesh.diagnostics())")
            }
        }
    }

    @Test("routing daemon: BIRD's OSPFv3 over the mesh as point-to-multipoint with link-local neighbours; IPv6 LANs reach each other through the mesh")
    func ospfOverLinkLocal() throws {
        try withRoutingDaemonMesh(prefix: "mwos", speaking: .ospf) { mesh, lanHosts, birds in
            let routers = DemoMesh.daemonRouters
            let learned = eventually(timeout: 60, every: 0.5) {
                routers.allSatisfy { name, _ in
                    routers.filter { $0.0 != name }.allSatisfy { other, host in carries(mesh, at: name, prefix: "fd09:\(host)::/64", member: other) }
                }
            }
            #expect(learned, "IPv6 LAN routes not learned over OSPFv3 or not in the next hop's allowed IPs:\n\(birdState(birds))")
            for (from, _) in routers {
                for (to, host) in routers where to != from {
                    let lanHost = try #require(lanHosts[from])
                    #expect(try mesh.lab.ping("fd09:\(host)::10", from: lanHost, count: 3, interval: 0.2, wait: 2).received > 0, "\(from)'s LAN → \(to)'s LAN over OSPFv3")
                }
            }
            #expect(routeReport(mesh, at: "bravo", prefix: "fd09:3::/64")["reason"] as? String == "next hop charlie")
        }
    }

    private func checkRoutingDaemon(_ mesh: DemoMesh, lanHosts: [String: String], birds: [String: BirdRouter]) throws {
        let lab = mesh.lab, routers = DemoMesh.daemonRouters
        // Every router learns the two other LANs (both families) and meshd gives each to its next hop.
        let learned = eventually(timeout: 60, every: 0.5) {
            routers.allSatisfy { name, _ in
                routers.filter { $0.0 != name }.allSatisfy { other, host in
                    carries(mesh, at: name, prefix: "10.9.\(host).0/24", member: other) && carries(mesh, at: name, prefix: "fd09:\(host)::/64", member: other)
                }
            }
        }
        #expect(learned, "LAN routes not learned or not in the next hop's allowed IPs:\n\(birdState(birds))")

        // LAN host to LAN host, both families, through two routers and the mesh.
        for (from, _) in routers {
            for (to, host) in routers where to != from {
                let lanHost = try #require(lanHosts[from])
                #expect(try lab.ping("10.9.\(host).10", from: lanHost, count: 3, interval: 0.2, wait: 2).received > 0, "\(from)'s LAN → \(to)'s LAN (IPv4)")
                #expect(try lab.ping("fd09:\(host)::10", from: lanHost, count: 3, interval: 0.2, wait: 2).received > 0, "\(from)'s LAN → \(to)'s LAN (IPv6)")
            }
        }

        // ECMP: 10.9.50.0/24 through charlie and delta at bravo: one carries it, and says why.
        let ecmp = eventually(timeout: 30, every: 0.5) {
            (routeReport(mesh, at: "bravo", prefix: "10.9.50.0/24")["reason"] as? String)?.hasPrefix("ECMP over charlie, delta") == true
        }
        let ecmpRoute = routeReport(mesh, at: "bravo", prefix: "10.9.50.0/24")
        #expect(ecmp, "bravo's report of 10.9.50.0/24: \(ecmpRoute)\nkernel: \(mesh.kernelRoute(at: "bravo", prefix: "10.9.50.0/24"))")
        let carriers = ["charlie", "delta"].filter { mesh.allowedIPs(at: "bravo", of: $0).contains("10.9.50.0/24") }
        #expect(carriers.count == 1 && carriers.first == ecmpRoute["active"] as? String, "carried by \(carriers), reported \(ecmpRoute)")
        #expect(ecmpRoute["source"] as? String == "daemon")

        // 10.77.0.0/24 is outside charlie's grant: in bravo's kernel (BIRD's), never in WireGuard; counted.
        #expect(!mesh.kernelRoute(at: "bravo", prefix: "10.77.0.0/24").isEmpty, "BIRD at bravo learned 10.77.0.0/24")
        #expect(!mesh.allowedIPs(at: "bravo", of: "charlie").contains("10.77.0.0/24"))
        let drops = (try mesh["bravo"].status()["drops"] as? [String: Any])?["daemon-route-refused"] as? Int ?? 0
        #expect(drops >= 1, "daemon-route-refused at bravo: \(drops)")

        // The export: bravo's table 51821 holds the other members' overlay addresses (proto 77).
        let exported = try lab.run(["ip", "route", "show", "table", "51821", "proto", "77"], in: mesh["bravo"].namespace).output
        #expect(exported.contains(mesh["charlie"].overlay[0]) && exported.contains(mesh["alpha"].overlay[0]), "exported: \(exported)")

        // The daemon withdraws delta's LAN and announces it again: measured at bravo, from the
        // kernel route's change to WireGuard's (the benchmark repeats this: AgentBenchmark daemon-routes).
        try mesh.setLAN(of: "delta", announced: false)
        let withdrawn = try mesh.routeMove(at: "bravo", prefix: "10.9.4.0/24", member: "delta", present: false)
        try mesh.setLAN(of: "delta", announced: true)
        let announced = try mesh.routeMove(at: "bravo", prefix: "10.9.4.0/24", member: "delta", present: true)
        print("routing daemon: WireGuard followed the kernel route in \(Int(withdrawn * 1000)) ms (withdrawn), \(Int(announced * 1000)) ms (announced)")

        // bravo ↔ charlie's direct path cut: the LANs stay reachable through the relay.
        try mesh.blockUnderlay(between: "bravo", and: "charlie")
        let relayed = eventually(timeout: 20, every: 0.5) {
            (try? mesh["bravo"].peers().first { $0["name"] as? String == "charlie" }?["path"] as? String) == "relay"
        }
        #expect(relayed, "bravo → charlie relayed after the cut")
        let bravoLAN = try #require(lanHosts["bravo"])
        #expect(try lab.ping("10.9.3.10", from: bravoLAN, count: 5, interval: 0.2, wait: 2).received > 0, "bravo's LAN → charlie's LAN relayed")
        #expect(try lab.ping("fd09:3::10", from: bravoLAN, count: 5, interval: 0.2, wait: 2).received > 0, "bravo's LAN → charlie's LAN relayed (IPv6)")
        try mesh.unblockUnderlay(at: "bravo")
    }

    /// Whether `host` has a kernel route to `prefix` and `member`'s allowed IPs there carry it.
    private func carries(_ mesh: DemoMesh, at host: String, prefix: String, member: String) -> Bool {
        !mesh.kernelRoute(at: host, prefix: prefix).isEmpty && mesh.allowedIPs(at: host, of: member).contains(prefix)
    }

    /// `host`'s `meshctl routes --json` entry for `prefix`.
    private func routeReport(_ mesh: DemoMesh, at host: String, prefix: String) -> [String: Any] {
        guard let output = try? mesh[host].meshctlChecked(["routes", "--json"]),
              let routes = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else { return [:] }
        return routes.first { $0["prefix"] as? String == prefix } ?? [:]
    }

    private func birdState(_ birds: [String: BirdRouter]) -> String {
        birds.sorted { $0.key < $1.key }.map { name, bird in
            "--- \(name): birdc show protocols\n\((try? bird.birdc(["show", "protocols"])) ?? "?")\n--- route\n\((try? bird.birdc(["show", "route"])) ?? "?")\n--- log\n\(bird.log.split(separator: "\n").suffix(15).joined(separator: "\n"))"
        }.joined(separator: "\n")
    }
}

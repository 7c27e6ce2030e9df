import Foundation
import MeshLab
import Testing

/// Issue 12 (S0): a site LAN (192.168.10.0/24, a server at .10) behind two gateways, bravo
/// (priority 150) and charlie (100), both serving the prefix; alpha accepts routes. The site's
/// server has no route into the mesh: the gateways masquerade.
extension AgentLabTests {
    static let site = "192.168.10.0/24", server = "192.168.10.10"

    /// Builds the mesh and the site; `body` gets the mesh, the configuration file of each host, and
    /// the site's namespace.
    func withSite(_ body: (DemoMesh, [String: String], String) throws -> Void) throws {
        try withLab(prefix: "mwrt") { lab, directory in
            let configs = [
                "alpha": "routes:\n  accept: true\n  hold_down: 5\n",
                "bravo": "routes:\n  serve:\n    - prefix: \(Self.site)\n      priority: 150\n      check:\n        interface: lan1\n        target: \(Self.server)\n        timeout_ms: 300\n",
                "charlie": "routes:\n  serve:\n    - prefix: \(Self.site)\n      priority: 100\n      check:\n        interface: lan1\n",
            ]
            let mesh: DemoMesh, site: String
            do {
                (mesh, site) = try DemoMesh.siteBehindTwoGateways(
                    lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, configs: configs,
                    site: Self.site, server: Self.server, prefix: AgentLab.prefix, prefix6: AgentLab.prefix6)
            } catch {
                throw LabError.failed("\(error)")
            }
            do {
                try body(mesh, configs.keys.reduce(into: [:]) { $0[$1] = "\(directory)/\($1).yaml" }, site)
            } catch {
                throw LabError.failed("\(error)\n\(mesh.diagnostics())")
            }
        }
    }

    /// alpha's report of the site prefix.
    func siteRoute(_ mesh: DemoMesh) -> [String: Any] {
        guard let output = try? mesh["alpha"].meshctlChecked(["routes", "--json"]),
              let routes = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]
        else { return [:] }
        return routes.first { $0["prefix"] as? String == Self.site } ?? [:]
    }

    /// Whether alpha has meshd's kernel route to the site (proto 77, through its mesh interface).
    func alphaRoutesSite(_ mesh: DemoMesh) -> Bool {
        let output = (try? mesh.lab.run(["ip", "route", "show", "proto", "77"], in: mesh["alpha"].namespace).output) ?? ""
        return output.contains("\(Self.site) dev \(mesh["alpha"].interface)")
    }

    @Test("routes: a site behind two gateways; the active one dies (meshd and WireGuard), traffic resumes through the other, and moves back")
    func siteBehindTwoGateways() throws {
        try withSite { mesh, files, _ in
            let alpha = mesh["alpha"], bravo = mesh["bravo"]
            var route: [String: Any] = [:]
            let chosen = eventually(timeout: 30) {
                route = siteRoute(mesh)
                return route["active"] as? String == "bravo" && alphaRoutesSite(mesh)
            }
            #expect(chosen, "alpha did not route the site through bravo: \(route)")
            let statusRoutes = try alpha.status()["routes"] as? [[String: Any]] ?? []
            #expect(statusRoutes.contains { $0["prefix"] as? String == Self.site && $0["active"] as? String == "bravo" && $0["source"] as? String == "mesh" },
                    "status --json routes: \(statusRoutes)")
            #expect(eventually(timeout: 20) { reaches(Self.server, from: alpha, in: mesh) }, "alpha does not reach the site's server")
            let table = try mesh.lab.run(["nft", "list", "table", "inet", "meshwork_gateway"], in: bravo.namespace).output
            #expect(table.contains("masquerade") && table.contains(Self.site), "bravo's gateway table: \(table)")

            // kill -9 bravo's meshd and take its WireGuard interface down with it.
            let stream = try PingStream(lab: mesh.lab, target: Self.server, from: alpha.namespace, interval: 0.05)
            usleep(2_000_000)
            let killedAt = Date().timeIntervalSince1970
            if let pid = bravo.daemon?.processIdentifier { kill(pid, SIGKILL) }
            try mesh.lab.run(["ip", "link", "delete", bravo.interface], in: bravo.namespace, check: false)
            let movedOver = eventually(timeout: 30) { siteRoute(mesh)["active"] as? String == "charlie" }
            route = siteRoute(mesh)
            #expect(movedOver, "the site did not move to charlie: \(route)")
            #expect(eventually(timeout: 20) { reaches(Self.server, from: alpha, in: mesh) }, "alpha does not reach the server through charlie")
            let summary = try stream.finish(interrupt: true)
            if let first = summary.firstReply(after: killedAt + 0.2) {
                print(String(format: "routes: gateway killed → first reply through charlie after %.3f s (%@)", first - killedAt, "\(summary)"))
            }
            print("routes: alpha's view after the failover: \(route)")

            // bravo back: the site moves back after the hold-down (5 s here).
            bravo.stopDaemon()
            try bravo.startDaemon()
            let movedBack = eventually(timeout: 60) { siteRoute(mesh)["active"] as? String == "bravo" }
            #expect(movedBack, "the site did not move back to bravo: \(siteRoute(mesh))")
            let reachedAgain = eventually(timeout: 20) { reaches(Self.server, from: alpha, in: mesh) }
            #expect(reachedAgain, """
                the server is not reached through bravo after its restart; alpha's WireGuard: \((try? mesh.lab.run(["wg", "show", alpha.interface], in: alpha.namespace).output) ?? "?")
                bravo's WireGuard: \((try? mesh.lab.run(["wg", "show", bravo.interface], in: bravo.namespace).output) ?? "?")
                bravo's nft: \((try? mesh.lab.run(["nft", "list", "ruleset"], in: bravo.namespace).output) ?? "?")
                bravo's log: \(bravo.log(lastLines: 30))
                """)

            // routes.accept off (reloaded with SIGHUP): meshd's route goes, nothing else does.
            try "routes:\n  accept: false\n".write(toFile: files["alpha"]!, atomically: true, encoding: .utf8)
            let before = try mesh.lab.run(["ip", "route", "show"], in: alpha.namespace).output
            if let pid = alpha.daemon?.processIdentifier { kill(pid, SIGHUP) }
            #expect(eventually(timeout: 20) { !alphaRoutesSite(mesh) }, "the route stayed after routes.accept was turned off")
            let after = try mesh.lab.run(["ip", "route", "show"], in: alpha.namespace).output
            let removed = Set(before.split(separator: "\n")).subtracting(after.split(separator: "\n"))
            #expect(removed.allSatisfy { $0.contains(Self.site) }, "removed besides meshd's route: \(removed)")
        }
    }

    @Test("routes: the active gateway loses its LAN link, then its uplink: traffic resumes through the other each time")
    func gatewayLosesItsLANThenItsUplink() throws {
        try withSite { mesh, _, site in
            #expect(eventually(timeout: 30) { siteRoute(mesh)["active"] as? String == "bravo" && reaches(Self.server, from: mesh["alpha"], in: mesh) })
            try serverStopsAnsweringBravo(in: mesh, site: site)
            try bravoLoses("LAN link", link: "lan1", in: mesh)
            try bravoLoses("uplink", link: "lan0", in: mesh)
        }
    }

    /// The server stops answering bravo's pings (its health check target; nftables in the site):
    /// bravo withdraws the prefix, alpha moves to charlie; then answers again: back to bravo.
    func serverStopsAnsweringBravo(in mesh: DemoMesh, site: String) throws {
        let alpha = mesh["alpha"], bravo = mesh["bravo"]
        let stream = try PingStream(lab: mesh.lab, target: Self.server, from: alpha.namespace, interval: 0.05)
        usleep(2_000_000)
        let failedAt = Date().timeIntervalSince1970
        try mesh.lab.nft("table inet mute {\n  chain input {\n    type filter hook input priority 0;\n    ip saddr 192.168.10.2 icmp type echo-request drop\n  }\n}\n", in: site)
        let moved = eventually(timeout: 30) { siteRoute(mesh)["active"] as? String == "charlie" }
        #expect(moved, "target silent: the site did not move to charlie: \(siteRoute(mesh))")
        let own = try bravo.meshctlChecked(["routes", "--json"])
        #expect(own.contains("health check: \(Self.server) unanswered for 300 ms"), "bravo's own report: \(own)")
        #expect(eventually(timeout: 20) { reaches(Self.server, from: alpha, in: mesh) })
        let summary = try stream.finish(interrupt: true)
        if let first = summary.firstReply(after: failedAt + 0.2) {
            print(String(format: "routes: the server stops answering bravo → first reply through charlie after %.3f s (%@)", first - failedAt, "\(summary)"))
        }
        try mesh.lab.run(["nft", "delete", "table", "inet", "mute"], in: site)
        #expect(eventually(timeout: 60) { siteRoute(mesh)["active"] as? String == "bravo" }, "target answering again: not back to bravo")
        #expect(eventually(timeout: 30) { reaches(Self.server, from: alpha, in: mesh) })
    }

    /// Takes bravo's `link` down while alpha pings the server: the site must move to charlie (and
    /// the server answer through it); then up again: the site must move back to bravo.
    func bravoLoses(_ what: String, link: String, in mesh: DemoMesh) throws {
        let alpha = mesh["alpha"], bravo = mesh["bravo"]
        let stream = try PingStream(lab: mesh.lab, target: Self.server, from: alpha.namespace, interval: 0.05)
        usleep(2_000_000)
        let failedAt = Date().timeIntervalSince1970
        try mesh.lab.run(["ip", "link", "set", link, "down"], in: bravo.namespace)
        let moved = eventually(timeout: 30) { siteRoute(mesh)["active"] as? String == "charlie" }
        #expect(moved, "\(what) down: the site did not move to charlie: \(siteRoute(mesh))")
        #expect(eventually(timeout: 20) { reaches(Self.server, from: alpha, in: mesh) }, "\(what) down: the server is not reached through charlie")
        let summary = try stream.finish(interrupt: true)
        if let first = summary.firstReply(after: failedAt + 0.2) {
            print(String(format: "routes: bravo's %@ down → first reply through charlie after %.3f s (%@)", what, first - failedAt, "\(summary)"))
        }
        if link == "lan1" {
            let own = try bravo.meshctlChecked(["routes", "--json"])
            #expect(own.contains("withdrawn by this node: health check: link lan1 is down"), "bravo's own report: \(own)")
        }
        try mesh.lab.run(["ip", "link", "set", link, "up"], in: bravo.namespace)
        let back = eventually(timeout: 60) { siteRoute(mesh)["active"] as? String == "bravo" }
        #expect(back, "\(what) up again: the site did not move back to bravo: \(siteRoute(mesh))")
        let reachedAgain = eventually(timeout: 30) { reaches(Self.server, from: alpha, in: mesh) }
        #expect(reachedAgain, """
            \(what) up again: the server is not reached through bravo; alpha's WireGuard: \((try? mesh.lab.run(["wg", "show", alpha.interface], in: alpha.namespace).output) ?? "?")
            bravo's WireGuard: \((try? mesh.lab.run(["wg", "show", bravo.interface], in: bravo.namespace).output) ?? "?")
            bravo's addresses: \((try? mesh.lab.run(["ip", "address"], in: bravo.namespace).output) ?? "?")
            alpha's peers: \((try? alpha.meshctlChecked(["peers"])) ?? "?")
            bravo's log: \(bravo.log(lastLines: 25))
            alpha's log: \(alpha.log(lastLines: 25))
            """)
    }
}

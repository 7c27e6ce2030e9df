import Foundation
import MeshLab
import Testing

/// Issue 13: BIRD 2 on three members (bravo, charlie, delta), each with a LAN behind it
/// (10.9.N.0/24 and fd09:N::/64, a host at .10), speaking eBGP to the others over the mesh's
/// link-local addresses; meshd runs `routing.mode: daemon`. alpha is the authority and a relay.
/// charlie and delta also both announce 10.9.50.0/24 (ECMP at bravo), and charlie announces
/// 10.77.0.0/24, which its certificate does not grant.
extension AgentLabTests {
    static let routers = [("bravo", 2), ("charlie", 3), ("delta", 4)]

    @Test("routing daemon: BIRD peers over link-local addresses, LANs reach each other through the mesh, ECMP picks one member, routes outside the grant are refused, a cut direct path relays, routes move within a second")
    func birdOverLinkLocal() throws {
        let lab = try Lab(prefix: "mwbd")
        defer { lab.teardown() }
        let directory = "/tmp/mwbd-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var specs = [DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1")]
        for (name, host) in Self.routers {
            let file = "\(directory)/\(name).yaml"
            try "routing:\n  mode: daemon\n".write(toFile: file, atomically: true, encoding: .utf8)
            specs.append(DemoMesh.HostSpec(name: name, ipv4: "198.51.100.\(host)", ipv6: "2001:db8:100::\(host)", daemonArguments: ["--config", file]))
        }
        let mesh = try DemoMesh(lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, specs: specs)
        do {
            try runBirdScenario(mesh, directory: directory)
        } catch {
            throw LabError.failed("\(error)\n\(mesh.diagnostics())")
        }
    }

    private func runBirdScenario(_ mesh: DemoMesh, directory: String) throws {
        let lab = mesh.lab
        var grants: [String: [String]] = [:]
        for (name, host) in Self.routers {
            grants[name] = ["10.9.\(host).0/24", "fd09:\(host)::/64"] + (name == "bravo" ? [] : ["10.9.50.0/24"])
        }
        try mesh.enroll(prefix: AgentLab.prefix, prefix6: AgentLab.prefix6, routes: grants)
        try mesh.waitForFullMesh(timeout: 90)

        // Each router's LAN: a host namespace behind a veth pair, its default routes via the router.
        var lanHosts: [String: String] = [:]
        for (name, host) in Self.routers {
            let router = mesh[name].namespace
            let lanHost = try lab.addNamespace("lan-\(name)")
            lanHosts[name] = lanHost
            try lab.connect(router, lanHost, addressA: "10.9.\(host).1/24", addressB: "10.9.\(host).10/24", nameA: "site0", nameB: "eth0")
            try lab.addAddress("fd09:\(host)::1/64", to: "site0", in: router)
            try lab.addAddress("fd09:\(host)::10/64", to: "eth0", in: lanHost)
            if name != "bravo" { try lab.addAddress("10.9.50.\(host)/24", to: "site0", in: router) }
            if name == "charlie" { try lab.addAddress("10.77.0.1/24", to: "site0", in: router) }
            try lab.run(["ip", "route", "add", "default", "via", "10.9.\(host).1"], in: lanHost)
            try lab.run(["ip", "-6", "route", "add", "default", "via", "fd09:\(host)::1"], in: lanHost)
            try lab.enableForwarding(in: router)
        }

        // BIRD on each router, peering with the two others at their link-local addresses.
        var linkLocal: [String: String] = [:]
        for (name, _) in Self.routers { linkLocal[name] = try mesh[name].status()["linkLocal"] as? String }
        var birds: [String: BirdRouter] = [:]
        for (name, host) in Self.routers {
            let neighbors = try Self.routers.filter { $0.0 != name }.map { other, otherHost in
                BirdRouter.Neighbor(name: other, linkLocal: try #require(linkLocal[other]), autonomousSystem: 65000 + otherHost)
            }
            let bird = try BirdRouter(
                lab: lab, namespace: mesh[name].namespace, directory: directory, name: name, routerID: "10.9.\(host).1",
                autonomousSystem: 65000 + host, meshInterface: mesh[name].interface, lanInterface: "site0", neighbors: neighbors)
            try bird.start()
            birds[name] = bird
        }

        // Every router learns the two other LANs (both families) and meshd gives each to its next hop.
        let learned = eventually(timeout: 60, every: 0.5) {
            Self.routers.allSatisfy { name, _ in
                Self.routers.filter { $0.0 != name }.allSatisfy { other, host in
                    carries(mesh, at: name, prefix: "10.9.\(host).0/24", member: other) && carries(mesh, at: name, prefix: "fd09:\(host)::/64", member: other)
                }
            }
        }
        #expect(learned, "LAN routes not learned or not in the next hop's allowed IPs:\n\(birdState(birds))")

        // LAN host to LAN host, both families, through two routers and the mesh.
        for (from, _) in Self.routers {
            for (to, host) in Self.routers where to != from {
                let lanHost = try #require(lanHosts[from])
                #expect(try lab.ping("10.9.\(host).10", from: lanHost, count: 3, interval: 0.2, wait: 2).received > 0, "\(from)'s LAN → \(to)'s LAN (IPv4)")
                #expect(try lab.ping("fd09:\(host)::10", from: lanHost, count: 3, interval: 0.2, wait: 2).received > 0, "\(from)'s LAN → \(to)'s LAN (IPv6)")
            }
        }

        // ECMP: 10.9.50.0/24 through charlie and delta at bravo: one carries it, and says why.
        let ecmp = eventually(timeout: 30, every: 0.5) {
            let route = routeReport(mesh, at: "bravo", prefix: "10.9.50.0/24")
            return (route["reason"] as? String)?.hasPrefix("ECMP over charlie, delta") == true
        }
        let ecmpRoute = routeReport(mesh, at: "bravo", prefix: "10.9.50.0/24")
        #expect(ecmp, "bravo's report of 10.9.50.0/24: \(ecmpRoute)\nkernel: \(kernelRoute(mesh, at: "bravo", prefix: "10.9.50.0/24"))")
        let carriers = ["charlie", "delta"].filter { allowedIPs(mesh, at: "bravo", of: $0).contains("10.9.50.0/24") }
        #expect(carriers.count == 1 && carriers.first == ecmpRoute["active"] as? String, "carried by \(carriers), reported \(ecmpRoute)")
        #expect(ecmpRoute["source"] as? String == "daemon")

        // 10.77.0.0/24 is outside charlie's grant: in bravo's kernel (BIRD's), never in WireGuard; counted.
        #expect(!kernelRoute(mesh, at: "bravo", prefix: "10.77.0.0/24").isEmpty, "BIRD at bravo learned 10.77.0.0/24")
        #expect(!allowedIPs(mesh, at: "bravo", of: "charlie").contains("10.77.0.0/24"))
        let drops = (try mesh["bravo"].status()["drops"] as? [String: Any])?["daemon-route-refused"] as? Int ?? 0
        #expect(drops >= 1, "daemon-route-refused at bravo: \(drops)")

        // The export: bravo's table 51821 holds the other members' overlay addresses (proto 77).
        let exported = try lab.run(["ip", "route", "show", "table", "51821", "proto", "77"], in: mesh["bravo"].namespace).output
        #expect(exported.contains(mesh["charlie"].overlay[0]) && exported.contains(mesh["alpha"].overlay[0]), "exported: \(exported)")

        // The daemon withdraws delta's LAN and announces it again: measured at bravo, from the
        // kernel route's change to WireGuard's.
        let delta = mesh["delta"].namespace
        try lab.run(["ip", "link", "set", "site0", "down"], in: delta)
        let withdrawn = try routeMove(mesh, at: "bravo", prefix: "10.9.4.0/24", member: "delta", present: false)
        try lab.run(["ip", "link", "set", "site0", "up"], in: delta)
        try lab.run(["ip", "-6", "address", "replace", "fd09:4::1/64", "dev", "site0", "nodad"], in: delta)
        let announced = try routeMove(mesh, at: "bravo", prefix: "10.9.4.0/24", member: "delta", present: true)
        print("routing daemon: WireGuard followed the kernel route in \(Int(withdrawn * 1000)) ms (withdrawn), \(Int(announced * 1000)) ms (announced)")
        #expect(withdrawn < 1 && announced < 1, "WireGuard followed the daemon's route in \(withdrawn) s / \(announced) s")

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
        !kernelRoute(mesh, at: host, prefix: prefix).isEmpty && allowedIPs(mesh, at: host, of: member).contains(prefix)
    }

    /// `ip route show PREFIX` at `host` (the main table).
    private func kernelRoute(_ mesh: DemoMesh, at host: String, prefix: String) -> String {
        let family = prefix.contains(":") ? "-6" : "-4"
        return ((try? mesh.lab.run(["ip", family, "route", "show", prefix], in: mesh[host].namespace).output) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `member`'s allowed IPs in `host`'s WireGuard.
    private func allowedIPs(_ mesh: DemoMesh, at host: String, of member: String) -> [String] {
        guard let key = try? mesh[host].peers().first(where: { $0["name"] as? String == member })?["wireGuardKey"] as? String,
              let dump = try? mesh[host].wireGuardDump() else { return [] }
        return dump.peer(key)?.allowedIPs ?? []
    }

    /// `host`'s `meshctl routes --json` entry for `prefix`.
    private func routeReport(_ mesh: DemoMesh, at host: String, prefix: String) -> [String: Any] {
        guard let output = try? mesh[host].meshctlChecked(["routes", "--json"]),
              let routes = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else { return [:] }
        return routes.first { $0["prefix"] as? String == prefix } ?? [:]
    }

    /// Polls until `host`'s kernel route to `prefix` is `present` (or not), then until `member`'s
    /// allowed IPs agree; returns the seconds between the two.
    private func routeMove(_ mesh: DemoMesh, at host: String, prefix: String, member: String, present: Bool) throws -> Double {
        let deadline = Date().addingTimeInterval(30)
        while kernelRoute(mesh, at: host, prefix: prefix).isEmpty == present {
            guard Date() < deadline else { throw LabError.failed("\(host)'s kernel route to \(prefix) never became \(present ? "present" : "absent")") }
            usleep(5_000)
        }
        let kernelChanged = Date()
        while allowedIPs(mesh, at: host, of: member).contains(prefix) != present {
            guard Date() < deadline else { throw LabError.failed("\(member)'s allowed IPs at \(host) never followed \(prefix)") }
            usleep(5_000)
        }
        return Date().timeIntervalSince(kernelChanged)
    }

    private func birdState(_ birds: [String: BirdRouter]) -> String {
        birds.sorted { $0.key < $1.key }.map { name, bird in
            "--- \(name): birdc show protocols\n\((try? bird.birdc(["show", "protocols"])) ?? "?")\n--- route\n\((try? bird.birdc(["show", "route"])) ?? "?")\n--- log\n\(bird.log.split(separator: "\n").suffix(15).joined(separator: "\n"))"
        }.joined(separator: "\n")
    }
}

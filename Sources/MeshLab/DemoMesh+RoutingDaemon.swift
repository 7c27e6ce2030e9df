import Foundation

extension DemoMesh {
    /// The routing-daemon set-up of issue 13 (docs/operations.md, "Recipe: BGP with BIRD 2"):
    /// alpha (authority, relay) and three routers, bravo, charlie and delta (host numbers 2–4),
    /// running meshd with `routing.mode: daemon` and BIRD 2 speaking eBGP (AS 65000 + N) or OSPFv3
    /// (`routing`) to each other over the mesh's link-local addresses. Each router has a LAN (`site0`, 10.9.N.1/24 and
    /// fd09:N::1/64) with a host at .10 in a namespace of its own; charlie and delta both also
    /// announce 10.9.50.0/24 (ECMP) and charlie announces 10.77.0.0/24, which its certificate does
    /// not grant. Returns once the mesh converged and BIRD runs (routes may still be on their way).
    public static func routingDaemonMesh(
        lab: Lab, binaries: String, directory: String, backend: String, prefix: String, prefix6: String,
        speaking routing: BirdRouter.RoutingProtocol = .bgp
    ) throws -> (mesh: DemoMesh, lanHosts: [String: String], birds: [String: BirdRouter]) {
        var specs = [HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1")]
        for (name, host) in daemonRouters {
            let file = "\(directory)/\(name).yaml"
            try "routing:\n  mode: daemon\n".write(toFile: file, atomically: true, encoding: .utf8)
            specs.append(HostSpec(name: name, ipv4: "198.51.100.\(host)", ipv6: "2001:db8:100::\(host)", daemonArguments: ["--config", file]))
        }
        let mesh = try DemoMesh(lab: lab, binaries: binaries, directory: directory, backend: backend, specs: specs)
        do {
            var grants: [String: [String]] = [:]
            for (name, host) in daemonRouters {
                grants[name] = ["10.9.\(host).0/24", "fd09:\(host)::/64"] + (name == "bravo" ? [] : ["10.9.50.0/24"])
            }
            try mesh.enroll(prefix: prefix, prefix6: prefix6, routes: grants)
            try mesh.waitForFullMesh(timeout: 90)
            var lanHosts: [String: String] = [:]
            for (name, host) in daemonRouters {
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
            var linkLocal: [String: String] = [:]
            for (name, _) in daemonRouters {
                guard let address = try mesh[name].status()["linkLocal"] as? String else {
                    throw LabError.failed("\(name) reports no link-local address")
                }
                linkLocal[name] = address
            }
            var birds: [String: BirdRouter] = [:]
            for (name, host) in daemonRouters {
                let neighbors = daemonRouters.filter { $0.0 != name }.map { other, otherHost in
                    BirdRouter.Neighbor(name: other, linkLocal: linkLocal[other] ?? "", autonomousSystem: 65000 + otherHost)
                }
                let bird = try BirdRouter(
                    lab: lab, namespace: mesh[name].namespace, directory: directory, name: name, routerID: "10.9.\(host).1",
                    autonomousSystem: 65000 + host, meshInterface: mesh[name].interface, lanInterface: "site0", neighbors: neighbors,
                    speaking: routing)
                try bird.start()
                birds[name] = bird
            }
            return (mesh, lanHosts, birds)
        } catch {
            throw LabError.failed("\(error)\n\(mesh.diagnostics())")
        }
    }

    /// The routers of ``routingDaemonMesh(lab:binaries:directory:backend:prefix:prefix6:)`` and their host numbers.
    public static let daemonRouters = [("bravo", 2), ("charlie", 3), ("delta", 4)]

    /// `ip route show PREFIX` at `host` (the main table), trimmed; empty when there is none.
    public func kernelRoute(at host: String, prefix: String) -> String {
        let family = prefix.contains(":") ? "-6" : "-4"
        return ((try? lab.run(["ip", family, "route", "show", prefix], in: self[host].namespace).output) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `member`'s allowed IPs in `host`'s WireGuard.
    public func allowedIPs(at host: String, of member: String) -> [String] {
        guard let key = try? self[host].peers().first(where: { $0["name"] as? String == member })?["wireGuardKey"] as? String,
              let dump = try? self[host].wireGuardDump() else { return [] }
        return dump.peer(key)?.allowedIPs ?? []
    }

    /// Polls until `host`'s kernel route to `prefix` is `present` (or gone), then until `member`'s
    /// allowed IPs there agree; returns the seconds between the two (each poll takes a few
    /// milliseconds: `ip`, then `meshctl peers` and `wg`).
    public func routeMove(at host: String, prefix: String, member: String, present: Bool, timeout: Double = 30) throws -> Double {
        let deadline = Date().addingTimeInterval(timeout)
        while kernelRoute(at: host, prefix: prefix).isEmpty == present {
            guard Date() < deadline else { throw LabError.failed("\(host)'s kernel route to \(prefix) never became \(present ? "present" : "absent")") }
            usleep(2_000)
        }
        let kernelChanged = Date()
        while allowedIPs(at: host, of: member).contains(prefix) != present {
            guard Date() < deadline else { throw LabError.failed("\(member)'s allowed IPs at \(host) never followed \(prefix)") }
            usleep(2_000)
        }
        return Date().timeIntervalSince(kernelChanged)
    }

    /// Withdraws (`announced` false) or announces again router `name`'s LAN: its LAN link goes down
    /// or up, and BIRD withdraws or announces the prefixes.
    public func setLAN(of name: String, announced: Bool) throws {
        guard let host = Self.daemonRouters.first(where: { $0.0 == name })?.1 else { throw LabError.failed("\(name) is not a router") }
        try lab.run(["ip", "link", "set", "site0", announced ? "up" : "down"], in: self[name].namespace)
        // A link going down drops its IPv6 addresses.
        if announced { try lab.run(["ip", "-6", "address", "replace", "fd09:\(host)::1/64", "dev", "site0", "nodad"], in: self[name].namespace) }
    }
}

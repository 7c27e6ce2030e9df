import Foundation

/// The demo mesh: five hosts in network namespaces on one machine.
///
/// ```
///                      lan (bridge) 198.51.100.0/24, 2001:db8:100::/64
///      ┌──────────┬──────────┬───────────┬──────────────┬──────────────┐
///    alpha      bravo     charlie    router1 (.11)   router2 (.12)
///    .1, ::1    .2, ::2   ::3 only    NAT44 │         NAT44 │
///   (authority)          (IPv6-only)  192.0.2.0/27    192.0.2.32/27
///                                     2001:db8:201::/64  2001:db8:202::/64
///                                         delta            echo
/// ```
///
/// delta and echo sit behind nftables masquerade (IPv4) with routed IPv6; charlie has no IPv4 at
/// all. alpha creates the network; the others are invited and join with real tokens.
public final class DemoMesh: @unchecked Sendable {
    /// The lab holding every namespace and process.
    public let lab: Lab
    /// Hosts by name, in creation order.
    public private(set) var nodes: [MeshLabNode] = []
    /// The router namespaces.
    public private(set) var routers: [String: String] = [:]
    /// The LAN switch namespace.
    public let switchNamespace: String

    /// The names of the five hosts.
    public static let names = ["alpha", "bravo", "charlie", "delta", "echo"]

    /// One host of a lab mesh: on the LAN directly (with the given addresses), or behind its own
    /// NAT router (`behindNAT`: IPv4 masquerade, routed IPv6; `symmetricNAT`: a fresh port for
    /// every destination, so no hole punching can work).
    public struct HostSpec: Sendable {
        public var name: String
        public var ipv4: String?
        public var ipv6: String?
        public var behindNAT = false
        public var symmetricNAT = false
        /// Routed IPv6 behind the router (ignored unless behind NAT).
        public var ipv6BehindNAT = true
        /// Extra meshd arguments.
        public var daemonArguments: [String] = []

        public init(name: String, ipv4: String? = nil, ipv6: String? = nil, behindNAT: Bool = false, symmetricNAT: Bool = false,
                    ipv6BehindNAT: Bool = true, daemonArguments: [String] = []) {
            self.name = name
            self.ipv4 = ipv4
            self.ipv6 = ipv6
            self.behindNAT = behindNAT
            self.symmetricNAT = symmetricNAT
            self.ipv6BehindNAT = ipv6BehindNAT
            self.daemonArguments = daemonArguments
        }
    }

    /// The demo's five hosts.
    public static let demoHosts: [HostSpec] = [
        HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1"),
        HostSpec(name: "bravo", ipv4: "198.51.100.2", ipv6: "2001:db8:100::2"),
        HostSpec(name: "charlie", ipv6: "2001:db8:100::3"),
        HostSpec(name: "delta", behindNAT: true),
        HostSpec(name: "echo", behindNAT: true),
    ]

    /// Builds the demo topology restricted to the hosts named (in the demo's order).
    public convenience init(lab: Lab, binaries: String, directory: String, backend: String = "auto", hosts: [String] = DemoMesh.names) throws {
        try self.init(lab: lab, binaries: binaries, directory: directory, backend: backend, specs: Self.demoHosts.filter { hosts.contains($0.name) })
    }

    /// Builds a LAN (a bridge, 198.51.100.0/24 and 2001:db8:100::/64) with `specs` on it, routers
    /// for the hosts behind NAT (router *n* at .1n / ::1n, its site 192.0.2.32(n-1)/27 and
    /// 2001:db8:20n::/64), and starts a meshd on every host (not yet enrolled).
    public init(lab: Lab, binaries: String, directory: String, backend: String = "auto", specs: [HostSpec]) throws {
        self.lab = lab
        switchNamespace = try lab.addNamespace("lan")
        try lab.run(["ip", "link", "add", "br0", "type", "bridge"], in: switchNamespace)
        try lab.run(["ip", "link", "set", "br0", "up"], in: switchNamespace)

        func attachToLAN(_ namespace: String, _ role: String, v4: String?, v6: String?) throws {
            let (inside, outside) = try lab.connect(namespace, switchNamespace, nameA: "lan0", nameB: "p-\(role)")
            try lab.run(["ip", "link", "set", outside, "master", "br0"], in: switchNamespace)
            if let v4 { try lab.addAddress("\(v4)/24", to: inside, in: namespace) }
            if let v6 { try lab.addAddress("\(v6)/64", to: inside, in: namespace) }
        }
        func node(_ spec: HostSpec, _ namespace: String, underlay: [String]) -> MeshLabNode {
            MeshLabNode(
                name: spec.name, namespace: namespace, stateDirectory: "\(directory)/\(spec.name)", interface: lab.uniqueInterfaceName("mesh"),
                underlay: underlay, lab: lab, binaries: binaries, backend: backend, daemonArguments: spec.daemonArguments)
        }

        var sites: [Int] = []
        for spec in specs {
            if !spec.behindNAT {
                let namespace = try lab.addNamespace(spec.name)
                try attachToLAN(namespace, spec.name, v4: spec.ipv4, v6: spec.ipv6)
                nodes.append(node(spec, namespace, underlay: [spec.ipv4, spec.ipv6].compactMap { $0 }))
                continue
            }
            let index = sites.count + 1
            sites.append(index)
            let router = try lab.addNamespace("router\(index)")
            routers["router\(index)"] = router
            try attachToLAN(router, "router\(index)", v4: "198.51.100.1\(index)", v6: "2001:db8:100::1\(index)")
            try lab.enableForwarding(in: router)
            try lab.masquerade(outOf: "lan0", in: router, fullyRandom: spec.symmetricNAT)
            let namespace = try lab.addNamespace(spec.name)
            let base = (index - 1) * 32
            try lab.connect(router, namespace, addressA: "192.0.2.\(base + 1)/27", addressB: "192.0.2.\(base + 2)/27", nameA: "in0", nameB: "eth0")
            try lab.run(["ip", "route", "add", "default", "via", "192.0.2.\(base + 1)"], in: namespace)
            var underlay = ["192.0.2.\(base + 2)"]
            if spec.ipv6BehindNAT {
                try lab.addAddress("2001:db8:20\(index)::1/64", to: "in0", in: router)
                try lab.addAddress("2001:db8:20\(index)::2/64", to: "eth0", in: namespace)
                try lab.run(["ip", "-6", "route", "add", "default", "via", "2001:db8:20\(index)::1"], in: namespace)
                underlay.append("2001:db8:20\(index)::2")
            }
            nodes.append(node(spec, namespace, underlay: underlay))
        }
        // Everyone on the LAN routes the NATed sites' IPv6 prefixes through their routers.
        let lanMembers = zip(specs, nodes).filter { !$0.0.behindNAT }.map(\.1.namespace) + routers.values.sorted()
        for namespace in lanMembers {
            for index in sites where routers["router\(index)"] != namespace {
                try lab.run(["ip", "-6", "route", "add", "2001:db8:20\(index)::/64", "via", "2001:db8:100::1\(index)"], in: namespace)
            }
        }
        for host in nodes { try host.startDaemon() }
    }

    /// The host called `name`.
    public subscript(name: String) -> MeshLabNode {
        guard let node = nodes.first(where: { $0.name == name }) else { preconditionFailure("no host \(name) in the demo mesh") }
        return node
    }

    /// Creates the network on the first host and enrolls every other one with `meshctl invite` and
    /// `meshctl join` (`relays` get the relay role, `exits` the exit role, `routes` the route
    /// grants named). Returns the join transcripts (progress lines).
    @discardableResult
    public func enroll(
        network: String = "demo", prefix: String = "100.80.0.0/16", prefix6: String = "fd5a:1::/48", relays: Set<String> = [],
        routes: [String: [String]] = [:], exits: Set<String> = []
    ) throws -> [String: String] {
        guard let authority = nodes.first else { return [:] }
        try authority.meshctlChecked(["init", "--network", network, "--prefix", prefix, "--prefix6", prefix6, "--name", authority.name])
        var transcripts: [String: String] = [:]
        for host in nodes.dropFirst() {
            let granted = (routes[host.name] ?? []).flatMap { ["--route", $0] }
            let roles = (relays.contains(host.name) ? ["--relay"] : []) + (exits.contains(host.name) ? ["--exit"] : [])
            let token = try authority.meshctlChecked(["invite", host.name] + roles + granted)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let result = try host.meshctl(["join", token], timeout: 60)
            guard result.succeeded else {
                throw LabError.failed("\(host.name) could not join: \(result.errorOutput)\nlog:\n\(host.log(lastLines: 30))")
            }
            transcripts[host.name] = result.errorOutput + result.output
        }
        for host in nodes {
            let status = try host.status()
            host.overlay = (status["addresses"] as? [String] ?? []).map { String($0.prefix(while: { $0 != "/" })) }
        }
        return transcripts
    }

    /// Waits until every host sees every other host alive with a WireGuard peer configured.
    public func waitForFullMesh(timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var missing: [String] = []
        repeat {
            missing = []
            for host in nodes {
                let peers = (try? host.peers()) ?? []
                let alive = Set(peers.filter { $0["state"] as? String == "alive" }.compactMap { $0["name"] as? String })
                for other in nodes where other !== host && !alive.contains(other.name) { missing.append("\(host.name)→\(other.name)") }
            }
            if missing.isEmpty { return }
            usleep(200_000)
        } while Date() < deadline
        throw LabError.failed("the mesh did not converge in \(Int(timeout)) s; missing: \(missing.joined(separator: ", "))")
    }

    /// Pings every host's overlay IPv4 address from every other host. Returns the matrix of
    /// results (row: from, column: to), a printable table, and a note for each pair that answered
    /// only on a retry. A pair that gives no answer is tried again, once a second, for up to
    /// `patience` seconds: a first WireGuard handshake towards a host behind NAT can wait for
    /// WireGuard's 5 s retry (docs/benchmarks.md, "join → first ping").
    public func pingMatrix(attempts: Int = 3, patience: Double = 10) -> (ok: Bool, matrix: [[Bool]], table: String, notes: [String]) {
        func reaches(_ source: MeshLabNode, _ address: String, count: Int, wait: Int) -> Bool {
            let counts = try? lab.ping(address, from: source.namespace, count: count, interval: 0.2, wait: wait)
            return (counts?.received ?? 0) > 0
        }
        let started = Date()
        var matrix: [[Bool]] = []
        for source in nodes {
            var row: [Bool] = []
            for target in nodes {
                guard source !== target, let address = target.overlay.first else {
                    row.append(true)
                    continue
                }
                row.append(reaches(source, address, count: attempts, wait: 2))
            }
            matrix.append(row)
        }
        var notes: [String] = []
        let deadline = Date().addingTimeInterval(patience)
        while Date() < deadline, matrix.contains(where: { $0.contains(false) }) {
            for (row, source) in nodes.enumerated() {
                for (column, target) in nodes.enumerated() where !matrix[row][column] {
                    guard let address = target.overlay.first, reaches(source, address, count: 1, wait: 1) else { continue }
                    matrix[row][column] = true
                    let seconds = Date().timeIntervalSince(started)
                    notes.append("\(source.name) → \(target.name) answered on a retry, \(String(format: "%.1f", seconds)) s after the matrix started")
                }
            }
        }
        let width = (nodes.map(\.name.count).max() ?? 5) + 2
        func pad(_ text: String) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        var lines = [pad("from\\to") + nodes.map { pad($0.name) }.joined()]
        for (index, source) in nodes.enumerated() {
            lines.append(pad(source.name) + matrix[index].enumerated().map { pad($0.offset == index ? "-" : ($0.element ? "ok" : "FAIL")) }.joined())
        }
        return (matrix.allSatisfy { $0.allSatisfy { $0 } }, matrix, lines.joined(separator: "\n"), notes)
    }
}

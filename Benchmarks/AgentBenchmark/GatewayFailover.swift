import BenchmarkSupport
import Foundation
import MeshLab

/// Issue 12, point 7: the outage a client pinging a site server every 50 ms sees when the active
/// gateway of an HA pair (a) is killed (its daemon and its WireGuard), (b) loses its LAN link,
/// (c) loses its uplink, and the time until traffic is back on it once it returns. Run on
/// Meshwork (``MeshworkSite``) and on the hand-built keepalived + WireGuard pair of the S0 set-up
/// (``KeepalivedSite``), the same failures injected, trials interleaved (a, b, c, a, …).
struct GatewayFailoverBenchmark {
    var trials = 10
    var interval = 0.05
    /// Seconds between a return and the next failure.
    var settle = 5.0
    /// How long to wait for traffic to come back before calling a trial failed over never.
    var timeout = 45.0
    /// Seconds from the failure to the repair (at least; longer when traffic took longer to come
    /// back): an operator's repair, not a blip.
    var hold = 8.0

    enum Failure: String, CaseIterable {
        case killed = "killed (daemon and WireGuard)"
        case lan = "LAN link down"
        case uplink = "uplink down"
    }

    /// One HA pair in front of a site, as the benchmark drives it.
    protocol Site {
        var name: String { get }
        var lab: Lab { get }
        /// Where the client pings from, and what.
        var client: String { get }
        var server: String { get }
        func inject(_ failure: Failure) throws
        func repair(_ failure: Failure) throws
        /// Whether the better gateway carries the site's traffic.
        func primaryActive() -> Bool
        /// What to print when a trial goes wrong.
        func diagnostics() -> String
    }

    struct Trial {
        var failure: Failure
        /// The longest time without a reply around the failure (what the client's ping sees).
        var outage: Double
        /// Repair → the better gateway carries the traffic again.
        var back: Double
        /// The longest time without a reply while it moves back.
        var backGap: Double
    }

    func run(_ site: any Site) throws -> [Trial] {
        guard waitUntil(timeout: 60, interval: 0.2, { site.primaryActive() && reachable(site) }) != nil else {
            throw LabError.failed("\(site.name): the site is not reached through the better gateway before the first trial\n\(site.diagnostics())")
        }
        var results: [Trial] = []
        for index in 0..<(trials * Failure.allCases.count) {
            let failure = Failure.allCases[index % Failure.allCases.count]
            let trial = try runTrial(site, failure)
            results.append(trial)
            progress(String(format: "%@ trial %d, %@: outage %.3f s; back after %.3f s (gap then %.3f s)",
                            site.name, index / Failure.allCases.count + 1, failure.rawValue, trial.outage, trial.back, trial.backGap))
            pause(settle)
        }
        return results
    }

    private func reachable(_ site: any Site) -> Bool {
        ((try? site.lab.ping(site.server, from: site.client, count: 1, interval: 0.2, wait: 1))?.received ?? 0) > 0
    }

    private func runTrial(_ site: any Site, _ failure: Failure) throws -> Trial {
        let stream = try PingStream(lab: site.lab, target: site.server, from: site.client, interval: interval)
        pause(1.5)
        let injected = wallClock()
        try site.inject(failure)
        // Back once a reply arrives for a request sent after the failure.
        let recovered = waitUntil(timeout: timeout, interval: 0.05) { stream.replyTimesSoFar.contains { $0 > injected + 0.5 } } != nil
        pause(max(1, hold - 0.5 - (wallClock() - injected)))
        let summary = try stream.finish(interrupt: true)
        let outage = recovered ? (summary.longestGap?.seconds ?? .nan) : .infinity
        let returning = try PingStream(lab: site.lab, target: site.server, from: site.client, interval: interval)
        pause(0.5)
        let repaired = monotonic()
        try site.repair(failure)
        let back = waitUntil(timeout: 90, interval: 0.05) { site.primaryActive() }.map { _ in monotonic() - repaired } ?? .nan
        pause(3)
        let after = try returning.finish(interrupt: true)
        guard waitUntil(timeout: 180, interval: 0.2, { reachable(site) }) != nil else {
            throw LabError.failed("\(site.name): the site is not reached after the return (\(failure.rawValue))\n\(site.diagnostics())")
        }
        return Trial(failure: failure, outage: outage, back: back, backGap: after.longestGap?.seconds ?? .nan)
    }

    /// Markdown: per set-up and failure, outage and return (median, max), against the goal.
    func report(_ runs: [(name: String, trials: [Trial])]) {
        print("\nGateway failover (\(trials) trials per failure, ping every \(Int(interval * 1000)) ms to the site's server; \(machineDescription()))\n")
        print("| set-up | failure | outage median | outage max | goal (median ≤ 1 s, max ≤ 2 s) | back to the better gateway median / max | longest gap while moving back (max) |")
        print("|---|---|---|---|---|---|---|")
        for (name, trials) in runs {
            for failure in Failure.allCases {
                let selected = trials.filter { $0.failure == failure }
                let outage = Summary(selected.map(\.outage).map { $0.isInfinite ? timeout : $0 })
                let never = selected.filter { $0.outage.isInfinite }.count
                let back = Summary(selected.map(\.back))
                let notBack = selected.filter { $0.back.isNaN }.count
                let gap = Summary(selected.map(\.backGap))
                let met = outage.median <= 1 && outage.maximum <= 2 && never == 0
                print("| \(name) | \(failure.rawValue) | \(format(outage.median)) s | \(format(outage.maximum)) s\(never > 0 ? " (\(never) never back within \(Int(timeout)) s)" : "") | \(met ? "met" : "not met") | \(format(back.median)) / \(format(back.maximum)) s\(notBack > 0 ? " (\(notBack) not back within 90 s)" : "") | \(format(gap.maximum)) s |")
            }
        }
    }
}

/// Meshwork: the S0 mesh of the lab test (`DemoMesh.siteBehindTwoGateways`): bravo (priority 150,
/// checks lan1 and the server) and charlie (100, checks lan1) serve the site; alpha takes routes
/// (hold-down 5 s) and pings the server.
struct MeshworkSite: GatewayFailoverBenchmark.Site {
    let name = "Meshwork"
    let lab: Lab
    let mesh: DemoMesh
    let server = "192.168.10.10"
    var client: String { mesh["alpha"].namespace }

    init(lab: Lab, binaries: String, backend: String) throws {
        self.lab = lab
        let configs = [
            "alpha": "routes:\n  accept: true\n  hold_down: 5\n",
            "bravo": "routes:\n  serve:\n    - prefix: 192.168.10.0/24\n      priority: 150\n      check:\n        interface: lan1\n        target: 192.168.10.10\n        timeout_ms: 300\n",
            "charlie": "routes:\n  serve:\n    - prefix: 192.168.10.0/24\n      priority: 100\n      check:\n        interface: lan1\n",
        ]
        mesh = try DemoMesh.siteBehindTwoGateways(lab: lab, binaries: binaries, directory: try labDirectory(lab), backend: backend, configs: configs).mesh
    }

    func inject(_ failure: GatewayFailoverBenchmark.Failure) throws {
        let bravo = mesh["bravo"]
        switch failure {
        case .killed:
            if let pid = bravo.daemon?.processIdentifier { kill(pid, SIGKILL) }
            try lab.run(["ip", "link", "delete", bravo.interface], in: bravo.namespace, check: false)
        case .lan: try lab.run(["ip", "link", "set", "lan1", "down"], in: bravo.namespace)
        case .uplink: try lab.run(["ip", "link", "set", "lan0", "down"], in: bravo.namespace)
        }
    }

    func repair(_ failure: GatewayFailoverBenchmark.Failure) throws {
        let bravo = mesh["bravo"]
        switch failure {
        case .killed:
            bravo.stopDaemon()
            try bravo.startDaemon()
        case .lan: try lab.run(["ip", "link", "set", "lan1", "up"], in: bravo.namespace)
        case .uplink: try lab.run(["ip", "link", "set", "lan0", "up"], in: bravo.namespace)
        }
    }

    func diagnostics() -> String { mesh.diagnostics() }

    func primaryActive() -> Bool {
        guard let output = try? mesh["alpha"].meshctlChecked(["routes", "--json"]),
              let routes = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]
        else { return false }
        return routes.contains { $0["prefix"] as? String == "192.168.10.0/24" && $0["active"] as? String == "bravo" }
    }
}

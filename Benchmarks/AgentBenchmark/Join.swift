import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 1: in the demo topology, alpha, bravo, charlie and delta form the mesh; echo (behind
/// its NAT router) joins. From `meshctl join` returning on echo, pings every 20 ms go from echo to
/// each existing host's overlay IPv4 address; the time of the first reply from each is recorded.
/// Between trials echo leaves (`meshctl leave`), its meshd stops, its state directory is emptied
/// (new identity and WireGuard keys: a new host) and meshd starts again.
struct JoinBenchmark {
    var trials = 10
    var interval = 0.02
    /// Seconds to wait after a leave before the next join (the others drop echo's WireGuard peer).
    var settle = 2.0

    struct Trial {
        /// `meshctl join` run time (invitation excluded).
        var joinSeconds: Double
        /// Join returned → first reply, per existing host.
        var firstReply: [String: Double]
        var loadAverage: String
    }

    let existing = ["alpha", "bravo", "charlie", "delta"]

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the demo mesh (\(backend)); echo stays out")
        let directory = try labDirectory(lab)
        let mesh = try DemoMesh(lab: lab, binaries: binaries, directory: directory, backend: backend)
        let alpha = mesh["alpha"], echo = mesh["echo"]
        try alpha.meshctlChecked(["init", "--network", "demo", "--prefix", overlayPrefix, "--prefix6", overlayPrefix6, "--name", "alpha"])
        for name in existing.dropFirst() {
            let token = try alpha.meshctlChecked(["invite", name]).trimmingCharacters(in: .whitespacesAndNewlines)
            try mesh[name].meshctlChecked(["join", token])
        }
        var overlay: [String: String] = [:]
        for name in existing {
            let addresses = try mesh[name].status()["addresses"] as? [String] ?? []
            guard let v4 = addresses.first(where: { !$0.contains(":") }) else { throw LabError.failed("\(name) has no overlay IPv4 address") }
            overlay[name] = String(v4.prefix { $0 != "/" })
        }
        try waitForExisting(mesh, alive: existing.count - 1)

        var results: [Trial] = []
        for index in 1...trials {
            if index > 1 { try reset(echo, mesh: mesh) }
            let trial = try runTrial(index, mesh: mesh, overlay: overlay)
            results.append(trial)
            progress("trial \(index): join \(format(trial.joinSeconds)) s; first reply " + existing.map { "\($0) \(format(trial.firstReply[$0] ?? .nan))" }.joined(separator: ", "))
        }
        report(results, backend: backend)
    }

    /// Waits until each existing host sees `alive` others alive.
    private func waitForExisting(_ mesh: DemoMesh, alive: Int) throws {
        let converged = waitUntil(timeout: 90, interval: 0.2) {
            existing.allSatisfy { name in
                let peers = (try? mesh[name].peers()) ?? []
                return peers.filter { $0["state"] as? String == "alive" && existing.contains($0["name"] as? String ?? "") }.count >= alive
            }
        }
        guard converged != nil else { throw LabError.failed("the four-host mesh did not converge\n\(mesh.diagnostics())") }
    }

    private func runTrial(_ index: Int, mesh: DemoMesh, overlay: [String: String]) throws -> Trial {
        let load = loadAverage()
        let alpha = mesh["alpha"], echo = mesh["echo"]
        let name = "echo\(index)"
        let token = try alpha.meshctlChecked(["invite", name]).trimmingCharacters(in: .whitespacesAndNewlines)
        let joinStart = monotonic()
        let result = try echo.meshctl(["join", token], timeout: 60)
        let joined = wallClock()
        let joinSeconds = monotonic() - joinStart
        guard result.succeeded else { throw LabError.failed("echo could not join: \(result.errorOutput)\n\(echo.log(lastLines: 30))") }
        // One pinger per existing host: requests every `interval` until the first reply (`-c 1 -w`),
        // restarted if ping gives up at once (no route yet).
        var pingers: [String: LabProcess] = [:]
        for name in existing {
            let script = "end=$((SECONDS+30)); until ping -D -n -i \(interval) -c 1 -w 20 \(overlay[name]!); do [ $SECONDS -ge $end ] && exit 1; sleep 0.01; done"
            pingers[name] = try mesh.lab.start(["bash", "-c", script], in: echo.namespace)
        }
        var firstReply: [String: Double] = [:]
        for (name, pinger) in pingers {
            pinger.wait(timeout: 40)
            firstReply[name] = firstReplyTime(pinger.output).map { $0 - joined } ?? .nan
        }
        return Trial(joinSeconds: joinSeconds, firstReply: firstReply, loadAverage: load)
    }

    /// echo leaves, forgets everything and starts again as a new host.
    private func reset(_ echo: MeshLabNode, mesh: DemoMesh) throws {
        try echo.meshctlChecked(["leave"])
        echo.stopDaemon()
        // A new host has no WireGuard interface yet. (This also matters: `meshctl leave` keeps the
        // interface and its overlay addresses, and after a second join the old address stays the
        // primary one, so the kernel picks it as the source and no reply finds its way back.)
        try echo.run(["ip", "link", "del", echo.interface], check: false)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: echo.stateDirectory)) ?? []
        for file in files where !file.hasSuffix(".log") {
            try? FileManager.default.removeItem(atPath: echo.stateDirectory + "/" + file)
        }
        // The others see echo leave and drop its WireGuard peer.
        let gone = waitUntil(timeout: 30, interval: 0.2) {
            existing.allSatisfy { name in
                ((try? mesh[name].peers()) ?? []).allSatisfy { ($0["name"] as? String ?? "").hasPrefix("echo") == false || $0["state"] as? String != "alive" }
            }
        }
        if gone == nil { progress("warning: some host still lists echo alive after its leave") }
        pause(settle)
        try echo.startDaemon()
    }

    private func report(_ results: [Trial], backend: String) {
        print("join → first ping: backend \(backend), \(results.count) trials; echo (behind NAT) joins alpha, bravo, charlie, delta;")
        print("from `meshctl join` returning on echo, `ping -i \(interval)` from echo to each host's overlay IPv4 address until its first reply")
        print(machineDescription())
        print("")
        print("| trial | loadavg (1/5/15 min) | `meshctl join` (s) | " + existing.map { "→ \($0) (s)" }.joined(separator: " | ") + " | → every host (s) |")
        print("|---:|---|---:|" + existing.map { _ in "---:" }.joined(separator: "|") + "|---:|")
        for (index, trial) in results.enumerated() {
            let all = existing.map { trial.firstReply[$0] ?? .nan }
            let every = all.contains(where: \.isNaN) ? Double.nan : all.max() ?? .nan
            print("| \(index + 1) | \(trial.loadAverage) | \(format(trial.joinSeconds)) | " + all.map { format($0) }.joined(separator: " | ") + " | \(format(every)) |")
        }
        print("")
        print("| measure | median (s) | max (s) | min (s) | trials |")
        print("|---|---:|---:|---:|---:|")
        let join = Summary(results.map(\.joinSeconds))
        print("| `meshctl join` run time | \(format(join.median)) | \(format(join.maximum)) | \(format(join.minimum)) | \(join.count) |")
        for name in existing {
            let summary = Summary(results.map { $0.firstReply[name] ?? .nan })
            print("| join returned → first reply from \(name)\(name == "alpha" ? " (the authority it joined through)" : "") | \(format(summary.median)) | \(format(summary.maximum)) | \(format(summary.minimum)) | \(summary.count) |")
        }
        let first = Summary(results.map { trial in existing.map { trial.firstReply[$0] ?? .nan }.filter { !$0.isNaN }.min() ?? .nan })
        let every = Summary(results.map { trial in
            let all = existing.map { trial.firstReply[$0] ?? .nan }
            return all.contains(where: \.isNaN) ? .nan : all.max() ?? .nan
        })
        print("| join returned → first reply from any host | \(format(first.median)) | \(format(first.maximum)) | \(format(first.minimum)) | \(first.count) |")
        print("| join returned → every existing host answered | \(format(every.median)) | \(format(every.maximum)) | \(format(every.minimum)) | \(every.count) (of \(results.count)) |")
        print("")
        let alpha = Summary(results.map { $0.firstReply["alpha"] ?? .nan })
        print("goal (join → first ping ≤ 1 s): \(alpha.maximum <= 1 ? "met" : (alpha.median <= 1 ? "met at the median, NOT at the max" : "NOT met")) — to alpha median \(format(alpha.median)) s, max \(format(alpha.maximum)) s; every host median \(format(every.median)) s, max \(format(every.maximum)) s")
    }
}

import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 4: meshd's resident memory (VmRSS, VmHWM from /proc/PID/status) and CPU while idle
/// (utime + stime from /proc/PID/stat over `window` seconds, as % of one core), `windows` windows
/// in a row after `settle` seconds of quiet:
///
/// - `--peers 5`: the demo mesh (five hosts, each meshd with 4 peers), every meshd measured;
/// - `--peers N` (N > 5): one meshd (alpha, the authority, IPv4 only on the LAN) and N live
///   simulated members (the `swarm` helper in another namespace on the LAN; see Swarm.swift);
///   measured once meshd lists N peers alive.
struct ResourcesBenchmark {
    var peers = 5
    var windows = 10
    var window = 30.0
    var settle = 60.0
    /// CPU the swarm helper is pinned to (`taskset`), if any.
    var swarmCPU: Int?
    /// The swarm members' SWIM probe interval (nil: meshd's default, 1 s).
    var swarmProbeInterval: Double?
    /// Swarm members introduced to meshd at a time (`--stage` of the swarm); default: all at once.
    var swarmStage: Int?
    /// Seconds between two stages.
    var swarmStagePause: Double?
    /// `star`: each member knows only meshd and does its share of a mesh's work towards it
    /// (default); `full`: every member runs the whole protocol with every other (see Swarm.swift).
    var swarmTopology = "star"
    /// Seconds to wait for meshd to list every simulated member alive; measured anyway after that
    /// (and the report says it did not converge).
    var convergeTimeout = 300.0
    /// Seconds between Prometheus scrapes of meshd's metrics (`metrics.listen` on, a Prometheus in
    /// alpha's namespace); nil: metrics off.
    var metricsScrapeInterval: Int?

    struct Sample {
        var cpuPercent: Double
        var rss: Double
        var highWater: Double
        var anonymous: Double
        var file: Double
    }

    struct Measured {
        var label: String
        var pid: Int32
        var samples: [Sample] = []
    }

    func run(lab: Lab, binaries: String, backend: String, executable: String) throws {
        let directory = try labDirectory(lab)
        var measured: [Measured] = []
        var swarm: LabProcess?
        var alpha: MeshLabNode
        var converged = true
        if peers <= 5 {
            progress("building the demo mesh (\(backend))")
            let mesh = try DemoMesh.enrolled(lab: lab, binaries: binaries, directory: directory, backend: backend)
            alpha = mesh["alpha"]
            for host in mesh.nodes {
                guard let pid = host.daemonProcessIdentifier else { throw LabError.failed("meshd on \(host.name) is not running") }
                measured.append(Measured(label: "meshd \(host.name)", pid: pid))
            }
        } else {
            progress("building one meshd (alpha, \(backend)) and a swarm of \(peers) members")
            var spec = DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1")
            if metricsScrapeInterval != nil {
                let file = "\(directory)/alpha.yaml"
                try "metrics:\n  listen: \"127.0.0.1:9586\"\n".write(toFile: file, atomically: true, encoding: .utf8)
                spec.daemonArguments = ["--config", file]
            }
            let mesh = try DemoMesh(lab: lab, binaries: binaries, directory: directory, backend: backend, specs: [spec])
            try mesh.enroll(prefix: overlayPrefix, prefix6: overlayPrefix6)
            alpha = mesh["alpha"]
            guard let pid = alpha.daemonProcessIdentifier else { throw LabError.failed("meshd on alpha is not running") }
            measured.append(Measured(label: "meshd alpha", pid: pid))
            let gossipPort = try alpha.status()["gossipPort"] as? Int ?? 51821
            let namespace = try lab.addNamespace("swarm")
            let (inside, outside) = try lab.connect(namespace, mesh.switchNamespace, nameA: "lan0", nameB: "p-swarm")
            try lab.run(["ip", "link", "set", outside, "master", "br0"], in: mesh.switchNamespace)
            try lab.addAddress("198.51.100.3/24", to: inside, in: namespace)
            var command = [executable, "swarm", "--state-dir", alpha.stateDirectory, "--count", String(peers),
                           "--address", "198.51.100.3", "--meshd", "198.51.100.1:\(gossipPort)"]
            if let swarmProbeInterval { command += ["--probe-interval", String(swarmProbeInterval)] }
            command += ["--stage", String(swarmStage ?? peers)]
            if let swarmStagePause { command += ["--stage-pause", String(swarmStagePause)] }
            command += ["--topology", swarmTopology]
            if let swarmCPU { command = ["taskset", "-c", String(swarmCPU)] + command }
            let process = try lab.start(command, in: namespace)
            swarm = process
            converged = try waitForSwarm(alpha: alpha, swarm: process)
        }
        if let pid = processes(named: "wireguard-go", in: alpha.namespace).first {
            measured.append(Measured(label: "wireguard-go alpha", pid: pid))
        }
        if let swarm { measured.append(Measured(label: "swarm (\(peers) simulated members)", pid: swarm.processIdentifier)) }
        var prometheus: PrometheusServer?
        if let interval = metricsScrapeInterval {
            progress("Prometheus scrapes alpha's meshd every \(interval) s")
            let server = try PrometheusServer(lab: lab, namespace: alpha.namespace, directory: directory, targets: ["127.0.0.1:9586"], rules: [], interval: interval)
            try server.start()
            prometheus = server
        }

        progress("settling \(Int(settle)) s")
        pause(settle)
        let loadBefore = loadAverage()
        var statuses: [String] = []
        for index in 1...windows {
            let before = measured.map { processCPUSeconds($0.pid) ?? .nan }
            let start = monotonic()
            pause(window)
            let elapsed = monotonic() - start
            for (position, item) in measured.enumerated() {
                let cpu = processCPUSeconds(item.pid) ?? .nan
                let memory = processMemory(item.pid) ?? (.nan, .nan, .nan, .nan)
                measured[position].samples.append(Sample(
                    cpuPercent: (cpu - before[position]) / elapsed * 100, rss: memory.rss, highWater: memory.highWater,
                    anonymous: memory.anonymous, file: memory.file))
            }
            // Outside the window: what meshd reports.
            let status = (try? alpha.status()) ?? [:]
            let byState = (status["membersByState"] as? [String: Any] ?? [:]).map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")
            statuses.append("peerCount \(status["peerCount"] ?? "?"), members: \(byState)")
            progress("window \(index): " + measured.map { "\($0.label) \(format($0.samples.last?.cpuPercent ?? .nan, 2)) % \(format($0.samples.last?.rss ?? .nan, 1)) MiB" }.joined(separator: "; ")
                + " | alpha: \(statuses.last ?? "")")
        }
        let loadAfter = loadAverage()
        if let prometheus {
            let series = (try? prometheus.query(#"count({__name__=~"meshwork_.*"})"#))?.first?.value
            let scrapes = (try? prometheus.query(#"count_over_time(up{job="meshd"}[10m])"#))?.first?.value
            let duration = (try? prometheus.query(#"avg_over_time(scrape_duration_seconds{job="meshd"}[10m])"#))?.first?.value
            let size = (try? prometheus.query(#"avg_over_time(scrape_samples_scraped{job="meshd"}[10m])"#))?.first?.value
            print("metrics on: Prometheus scraped meshd every \(metricsScrapeInterval ?? 0) s; meshwork series \(series.map { format($0, 0) } ?? "?"), "
                + "samples per scrape \(size.map { format($0, 0) } ?? "?"), scrape duration \(duration.map { format($0 * 1000, 1) } ?? "?") ms on average, "
                + "\(scrapes.map { format($0, 0) } ?? "?") scrapes in the last 10 min")
        }
        var alivePeers = -1
        if let peersList = try? alpha.peers() { alivePeers = peersList.filter { $0["state"] as? String == "alive" }.count }
        let swarmTail = swarm.map { $0.output.split(separator: "\n").suffix(1).joined() } ?? ""
        if !converged { print("**NOT CONVERGED**: meshd did not list all \(peers) simulated members alive within \(Int(convergeTimeout)) s; the figures below are of that state, not of a steady state") }
        report(measured, statuses: statuses, loadBefore: loadBefore, loadAfter: loadAfter, alivePeers: alivePeers, swarmTail: swarmTail, backend: backend)
    }

    /// Waits until alpha's meshd lists `peers` peers alive (and WireGuard has them configured).
    private func waitForSwarm(alpha: MeshLabNode, swarm: LabProcess) throws -> Bool {
        let start = monotonic()
        var lastReport = 0.0
        while true {
            guard swarm.isRunning else { throw LabError.failed("the swarm exited:\n\(swarm.output.suffix(3000))") }
            let status = (try? alpha.status()) ?? [:]
            let peerCount = status["peerCount"] as? Int ?? 0
            if monotonic() - lastReport >= 10 {
                lastReport = monotonic()
                let byState = (status["membersByState"] as? [String: Any] ?? [:]).map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")
                progress("alpha: peerCount \(peerCount) (\(byState)); swarm: \(swarm.output.split(separator: "\n").last ?? "")")
            }
            if peerCount >= peers {
                let alive = ((try? alpha.peers()) ?? []).filter { $0["state"] as? String == "alive" }.count
                let configured = ((try? alpha.wireGuardDump())?.peers.count) ?? 0
                if alive >= peers && configured >= peers {
                    progress("alpha lists \(alive) peers alive, \(configured) WireGuard peers, after \(format(monotonic() - start, 1)) s")
                    return true
                }
            }
            guard monotonic() - start < convergeTimeout else {
                progress("NOT CONVERGED: alpha does not list \(peers) peers alive after \(Int(convergeTimeout)) s (peerCount \(peerCount)); measuring anyway")
                return false
            }
            pause(2)
        }
    }

    private func report(_ measured: [Measured], statuses: [String], loadBefore: String, loadAfter: String, alivePeers: Int, swarmTail: String, backend: String) {
        let setup = (peers <= 5 ? "demo mesh: five hosts, each meshd with 4 peers" : "one meshd (alpha) with \(peers) live simulated members (swarm)")
            + (metricsScrapeInterval.map { ", metrics on (scraped every \($0) s)" } ?? "")
        print("meshd memory and idle CPU: backend \(backend), \(setup); \(windows) windows of \(format(window, 0)) s after \(format(settle, 0)) s settling")
        print(machineDescription())
        print("loadavg before the windows: \(loadBefore); after: \(loadAfter)")
        print("alpha at the end: \(statuses.last ?? "?"); `meshctl peers --json` alive: \(alivePeers)")
        if !swarmTail.isEmpty { print("swarm at the end: \(swarmTail)") }
        print("")
        print("| window | " + measured.map { "\($0.label): CPU (% of a core) / VmRSS (MiB)" }.joined(separator: " | ") + " |")
        print("|---:|" + measured.map { _ in "---:" }.joined(separator: "|") + "|")
        for index in 0..<windows {
            print("| \(index + 1) | " + measured.map { item in
                guard index < item.samples.count else { return "—" }
                return "\(format(item.samples[index].cpuPercent, 2)) / \(format(item.samples[index].rss, 1))"
            }.joined(separator: " | ") + " |")
        }
        print("")
        print("| process | CPU median (% of a core) | CPU max | VmRSS median (MiB) | VmRSS max | VmHWM at the end (MiB) | RssAnon at the end (MiB) | RssFile at the end (MiB) | windows |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for item in measured {
            let cpu = Summary(item.samples.map(\.cpuPercent)), rss = Summary(item.samples.map(\.rss))
            let last = item.samples.last
            print("| \(item.label) | \(format(cpu.median, 2)) | \(format(cpu.maximum, 2)) | \(format(rss.median, 1)) | \(format(rss.maximum, 1)) | \(format(last?.highWater ?? .nan, 1)) | \(format(last?.anonymous ?? .nan, 1)) | \(format(last?.file ?? .nan, 1)) | \(cpu.count) |")
        }
        print("")
        if peers > 5, let meshd = measured.first {
            let rss = Summary(meshd.samples.map(\.rss))
            let hwm = meshd.samples.last?.highWater ?? .nan
            print("goal (meshd VmRSS ≤ 30 MB at \(peers) peers): \(rss.maximum <= 30 * 1_000_000 / 1_048_576 ? "met" : "NOT met") — VmRSS max \(format(rss.maximum, 1)) MiB (\(format(rss.maximum * 1.048576, 1)) MB), VmHWM \(format(hwm, 1)) MiB")
        }
    }
}

import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 3: iperf3 (TCP) from bravo to charlie through the tunnel, direct and then relayed
/// through alpha (the direct path cut), alternating in the same run.
struct ThroughputBenchmark {
    var trials = 10
    var seconds = 5
    /// Seconds at the start of each iperf3 run left out of the result (TCP slow start).
    var omit = 1

    struct Run {
        var bitsPerSecond: Double
        var retransmits: Int
        /// CPU the relay's meshd used during the run, in cores (1.0 = one core busy).
        var relayCPU: Double
        /// Busy fraction of the whole machine during the run.
        var machineBusy: Double
        var relayForwarded: Int
        var relayDropped: Int
    }

    func run(lab: Lab, binaries: String, backend: String) throws {
        guard (try? LabCommand.resolve("iperf3")) != nil else { throw LabError.missingTool("iperf3", package: "iperf3") }
        progress("building the mesh (\(backend))")
        let triangle = try Triangle(lab: lab, binaries: binaries, backend: backend)
        guard let target = triangle.mesh["charlie"].overlay.first else { throw LabError.failed("charlie has no overlay address") }
        try lab.start(["iperf3", "-s", "-B", target], in: triangle.mesh["charlie"].namespace)
        pause(0.5)
        var pairs: [(direct: Run, relayed: Run, load: String)] = []
        for index in 1...trials {
            let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
            try waitForDirect(triangle)
            let direct = try iperf(triangle, target: target)
            try triangle.cut("charlie", from: "bravo")
            guard triangle.waitUntil(timeout: 60, interval: 0.1, {
                triangle.sendsThrough("alpha", to: "charlie", from: "bravo") && triangle.sendsThrough("alpha", to: "bravo", from: "charlie")
            }) != nil else {
                throw LabError.failed("bravo ↔ charlie never went through alpha: \(String(describing: try? triangle.peer("charlie", seenBy: "bravo")))")
            }
            _ = try lab.ping(target, from: triangle.mesh["bravo"].namespace, count: 3, interval: 0.1, wait: 2)
            let relayed = try iperf(triangle, target: target)
            try triangle.heal("charlie")
            pairs.append((direct, relayed, load))
            progress(String(format: "trial %d: direct %.0f Mbit/s, relayed %.0f Mbit/s (%.1f %%), relay meshd %.2f cores", index,
                            direct.bitsPerSecond / 1e6, relayed.bitsPerSecond / 1e6, 100 * relayed.bitsPerSecond / direct.bitsPerSecond, relayed.relayCPU))
        }
        report(pairs, backend: backend)
    }

    private func waitForDirect(_ triangle: Triangle) throws {
        // Traffic keeps the path manager probing, so the direct retry happens: ping while waiting.
        let ping = try PingRun(lab: triangle.lab, from: triangle.mesh["bravo"].namespace, to: triangle.mesh["charlie"].overlay[0], interval: 0.2)
        defer { _ = ping.finish() }
        guard triangle.waitUntil(timeout: 180, interval: 0.2, {
            triangle.reports("direct", peer: "charlie", seenBy: "bravo") && triangle.sendsDirect(to: "charlie", from: "bravo")
                && triangle.sendsDirect(to: "bravo", from: "charlie")
        }) != nil else {
            throw LabError.failed("bravo ↔ charlie did not come back to direct: \(String(describing: try? triangle.peer("charlie", seenBy: "bravo")))")
        }
        pause(1)
    }

    private func relayCounters(_ triangle: Triangle) -> (forwarded: Int, dropped: Int) {
        let relay = (try? triangle.mesh["alpha"].status())?["relay"] as? [String: Any]
        return (relay?["forwardedPackets"] as? Int ?? 0, relay?["dropped"] as? Int ?? 0)
    }

    private func iperf(_ triangle: Triangle, target: String) throws -> Run {
        let relayPID = triangle.mesh["alpha"].daemon?.processIdentifier ?? 0
        let countersBefore = relayCounters(triangle)
        let cpuBefore = processCPUSeconds(relayPID) ?? 0
        let jiffiesBefore = cpuJiffies()
        let started = monotonic()
        let result = try triangle.mesh["bravo"].run(
            ["iperf3", "-c", target, "-t", String(seconds), "-O", String(omit), "-J"], check: false, timeout: Double(seconds + omit + 30))
        let elapsed = monotonic() - started
        let cpu = ((processCPUSeconds(relayPID) ?? cpuBefore) - cpuBefore) / elapsed
        let busy = busyFractions(jiffiesBefore, cpuJiffies()).first ?? .nan
        let countersAfter = relayCounters(triangle)
        guard let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
              let end = json["end"] as? [String: Any],
              let received = end["sum_received"] as? [String: Any],
              let bits = received["bits_per_second"] as? Double
        else {
            throw LabError.failed("iperf3 failed: \(result.errorOutput) \(result.output.suffix(400))")
        }
        let retransmits = (end["sum_sent"] as? [String: Any])?["retransmits"] as? Int ?? -1
        return Run(bitsPerSecond: bits, retransmits: retransmits, relayCPU: cpu, machineBusy: busy,
                   relayForwarded: countersAfter.forwarded - countersBefore.forwarded, relayDropped: countersAfter.dropped - countersBefore.dropped)
    }

    private func report(_ pairs: [(direct: Run, relayed: Run, load: String)], backend: String) {
        print("relay throughput: backend \(backend), \(pairs.count) trials, iperf3 TCP bravo → charlie's overlay address, \(seconds) s per run (first \(omit) s omitted), direct then relayed through alpha in each trial")
        print(machineDescription())
        print("")
        print("| trial | loadavg | direct (Mbit/s) | retr. | machine busy | relayed (Mbit/s) | retr. | machine busy | relay meshd CPU (cores) | relay forwarded pkts | relay dropped | relayed / direct |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (index, pair) in pairs.enumerated() {
            let d = pair.direct, r = pair.relayed
            print("| \(index + 1) | \(pair.load) | \(format(d.bitsPerSecond / 1e6, 0)) | \(d.retransmits) | \(format(d.machineBusy * 100, 0)) % | \(format(r.bitsPerSecond / 1e6, 0)) | \(r.retransmits) | \(format(r.machineBusy * 100, 0)) % | \(format(r.relayCPU, 2)) | \(r.relayForwarded) | \(r.relayDropped) | \(format(100 * r.bitsPerSecond / d.bitsPerSecond, 1)) % |")
        }
        let direct = Summary(pairs.map { $0.direct.bitsPerSecond / 1e6 })
        let relayed = Summary(pairs.map { $0.relayed.bitsPerSecond / 1e6 })
        let ratios = Summary(pairs.map { 100 * $0.relayed.bitsPerSecond / $0.direct.bitsPerSecond })
        let cpu = Summary(pairs.map(\.relayed.relayCPU))
        print("")
        print("| measure | median | max | min |")
        print("|---|---:|---:|---:|")
        print("| direct (Mbit/s) | \(format(direct.median, 0)) | \(format(direct.maximum, 0)) | \(format(direct.minimum, 0)) |")
        print("| relayed (Mbit/s) | \(format(relayed.median, 0)) | \(format(relayed.maximum, 0)) | \(format(relayed.minimum, 0)) |")
        print("| relayed / direct, per trial (%) | \(format(ratios.median, 1)) | \(format(ratios.maximum, 1)) | \(format(ratios.minimum, 1)) |")
        print("| relay meshd CPU while relaying (cores) | \(format(cpu.median, 2)) | \(format(cpu.maximum, 2)) | \(format(cpu.minimum, 2)) |")
        print("")
        let ratio = relayed.median / direct.median * 100
        print("goal (relayed ≥ 90 % of direct): \(ratio >= 90 ? "met" : "NOT met") — median relayed / median direct = \(format(ratio, 1)) %, median of per-trial ratios \(format(ratios.median, 1)) %")
    }
}

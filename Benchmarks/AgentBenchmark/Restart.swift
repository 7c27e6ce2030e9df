import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 3: as the lab test `restartWithoutLoss`, streams of `ping -i 0.05` from the four other
/// hosts of the demo mesh to bravo's overlay addresses (IPv4 and IPv6 in turn) while bravo's meshd
/// stops (SIGTERM), stays down `down` seconds and starts again; counts unanswered requests.
struct RestartBenchmark {
    var trials = 10
    var interval = 0.05
    /// Seconds meshd stays down.
    var down = 1.0
    /// Seconds between trials.
    var settle = 2.0

    struct Trial {
        /// Unanswered requests (before each stream's last reply), per source.
        var lost: [String: Int]
        var transmitted: Int
        /// SIGTERM → meshd gone.
        var stopSeconds: Double
        /// Start → control socket answers.
        var startSeconds: Double
        /// Start → bravo's meshd lists every peer alive again.
        var convergeSeconds: Double
        var endpointsChanged: Int
        var loadAverage: String
    }

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the demo mesh (\(backend))")
        let mesh = try DemoMesh.enrolled(lab: lab, binaries: binaries, directory: try labDirectory(lab), backend: backend)
        let bravo = mesh["bravo"]
        let sources = mesh.others(than: bravo)
        for (index, source) in sources.enumerated() {
            let target = bravo.overlay[index % bravo.overlay.count]
            guard waitUntil(timeout: 45, interval: 0.2, { ((try? mesh.lab.ping(target, from: source.namespace, count: 1, interval: 0.2, wait: 1))?.received ?? 0) > 0 }) != nil
            else { throw LabError.failed("\(source.name) does not reach bravo at \(target)\n\(mesh.diagnostics())") }
        }
        var results: [Trial] = []
        for index in 1...trials {
            let trial = try runTrial(mesh, bravo: bravo, sources: sources)
            results.append(trial)
            progress("trial \(index): lost " + sources.map { "\($0.name) \(trial.lost[$0.name] ?? -1)" }.joined(separator: ", ")
                + " of \(trial.transmitted); peers alive again \(format(trial.convergeSeconds)) s after start")
            if index < trials { pause(settle) }
        }
        report(results, sources: sources, bravo: bravo, backend: backend)
    }

    private func runTrial(_ mesh: DemoMesh, bravo: MeshLabNode, sources: [MeshLabNode]) throws -> Trial {
        let load = loadAverage()
        let streams = try sources.enumerated().map { index, source in
            try PingStream(lab: mesh.lab, target: bravo.overlay[index % bravo.overlay.count], from: source.namespace, interval: interval)
        }
        pause(1)
        let before = try bravo.wireGuardDump()
        let stopStart = monotonic()
        bravo.stopDaemon()
        let stopSeconds = monotonic() - stopStart
        pause(down)
        let start = monotonic()
        try bravo.startDaemon()
        let startSeconds = monotonic() - start
        let converge = waitUntil(timeout: 60, interval: 0.05) {
            ((try? bravo.peers()) ?? []).filter { $0["state"] as? String == "alive" }.count == sources.count
        }
        pause(1)
        let after = try bravo.wireGuardDump()
        var lost: [String: Int] = [:]
        var transmitted = 0
        for (source, stream) in zip(sources, streams) {
            let summary = try stream.finish(interrupt: true)
            lost[source.name] = summary.received > 0 ? summary.missingSequences.count : summary.transmitted
            transmitted += summary.transmitted
        }
        let changed = before.peers.filter { after.peer($0.publicKey)?.endpoint != $0.endpoint }.count
        return Trial(
            lost: lost, transmitted: transmitted, stopSeconds: stopSeconds, startSeconds: startSeconds,
            convergeSeconds: converge.map { $0 + startSeconds } ?? .nan, endpointsChanged: changed, loadAverage: load)
    }

    private func report(_ results: [Trial], sources: [MeshLabNode], bravo: MeshLabNode, backend: String) {
        let names = sources.map(\.name)
        print("packets lost across a meshd restart: backend \(backend), \(results.count) trials; `ping -i \(interval)` from each other host to bravo's overlay")
        print("addresses (IPv4 and IPv6 in turn: " + sources.enumerated().map { "\($0.element.name) → \(bravo.overlay[$0.offset % bravo.overlay.count])" }.joined(separator: ", ")
            + "), 1 s before SIGTERM to bravo's meshd, \(down) s down, until 1 s after it sees every peer alive again")
        print(machineDescription())
        print("")
        print("| trial | loadavg (1/5/15 min) | " + names.map { "lost \($0) → bravo" }.joined(separator: " | ") + " | lost (all streams) | requests sent | SIGTERM → exit (s) | start → socket (s) | start → all peers alive (s) | WG endpoints changed |")
        print("|---:|---|" + names.map { _ in "---:" }.joined(separator: "|") + "|---:|---:|---:|---:|---:|---:|")
        for (index, trial) in results.enumerated() {
            let total = names.map { trial.lost[$0] ?? 0 }.reduce(0, +)
            print("| \(index + 1) | \(trial.loadAverage) | " + names.map { "\(trial.lost[$0] ?? -1)" }.joined(separator: " | ")
                + " | \(total) | \(trial.transmitted) | \(format(trial.stopSeconds)) | \(format(trial.startSeconds)) | \(format(trial.convergeSeconds)) | \(trial.endpointsChanged) |")
        }
        let totals = results.map { trial in Double(names.map { trial.lost[$0] ?? 0 }.reduce(0, +)) }
        let lost = Summary(totals)
        let converge = Summary(results.map(\.convergeSeconds))
        print("")
        print("| measure | median | max | min | trials |")
        print("|---|---:|---:|---:|---:|")
        print("| pings lost per restart (all four streams) | \(format(lost.median, 1)) | \(format(lost.maximum, 0)) | \(format(lost.minimum, 0)) | \(lost.count) |")
        print("| start → bravo lists every peer alive (s) | \(format(converge.median)) | \(format(converge.maximum)) | \(format(converge.minimum)) | \(converge.count) |")
        print("")
        print("goal (0 packets lost): \(lost.maximum == 0 ? "met" : "NOT met") — \(Int(totals.reduce(0, +))) lost in \(results.count) restarts (\(results.map(\.transmitted).reduce(0, +)) requests)")
    }
}

import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 1 and 2: the outage when bravo–charlie's direct path is cut during `ping -i 0.05`,
/// and the time back to direct once the cut is removed.
struct FailoverBenchmark {
    var trials = 10
    /// Seconds of traffic on the direct path before the cut.
    var warmup = 3.0
    /// Seconds the cut lasts.
    var hold = 5.0
    /// Seconds to wait after a trial healed before the next cut (the path manager doubles its
    /// retry backoff after a relapse within 60 s of healing; trials must not inherit that).
    var settle = 62.0
    var interval = 0.05

    struct Trial {
        var nftSeconds: Double
        /// Cut (before the rules were loaded) → first reply to a request sent after they were.
        var outage: Double
        /// Longest run of unanswered sequence numbers around the cut.
        var lostRun: Int
        var relayedVia: String
        var reason: String
        /// Heal (before the rules were removed) → bravo's `meshctl peers` says direct.
        var toReportedDirect: Double
        /// Heal → bravo's WireGuard endpoint for charlie is charlie's underlay address again.
        var toBravoEndpoint: Double
        /// Heal → charlie's WireGuard endpoint for bravo is bravo's underlay address again.
        var toCharlieEndpoint: Double
        /// Pings lost from the heal to the end of the trial.
        var lostAfterHeal: Int
        var loadAverage: String
    }

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the mesh (\(backend))")
        let triangle = try Triangle(lab: lab, binaries: binaries, backend: backend)
        guard let target = triangle.mesh["charlie"].overlay.first else { throw LabError.failed("charlie has no overlay address") }
        var results: [Trial] = []
        for index in 1...trials {
            let trial = try runTrial(triangle, target: target)
            results.append(trial)
            progress(String(format: "trial %d: outage %.3f s (lost run %d), back to direct: reported %.3f s, endpoints %.3f / %.3f s, lost after heal %d",
                            index, trial.outage, trial.lostRun, trial.toReportedDirect, trial.toBravoEndpoint, trial.toCharlieEndpoint, trial.lostAfterHeal))
            if index < trials { pause(settle) }
        }
        report(results, backend: backend)
    }

    private func runTrial(_ triangle: Triangle, target: String) throws -> Trial {
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        let ping = try PingRun(lab: triangle.lab, from: triangle.mesh["bravo"].namespace, to: target, interval: interval)
        defer { _ = ping.finish() }
        // Direct, with traffic, on both ends.
        guard triangle.waitUntil(timeout: 60, interval: 0.2, {
            triangle.reports("direct", peer: "charlie", seenBy: "bravo") && triangle.sendsDirect(to: "charlie", from: "bravo")
                && triangle.sendsDirect(to: "bravo", from: "charlie") && ping.replies.count >= 10
        }) != nil else {
            throw LabError.failed("bravo → charlie is not direct with traffic: \(String(describing: try? triangle.peer("charlie", seenBy: "bravo")))")
        }
        pause(warmup)

        let cutWall = wallClock()
        let nftSeconds = try triangle.cut("charlie", from: "bravo")
        let cutDone = cutWall + nftSeconds
        pause(hold)
        let entry = (try? triangle.peer("charlie", seenBy: "bravo")) ?? [:]
        let relayedVia = Triangle.relayedVia(entry)

        let healWall = wallClock()
        let healStart = monotonic()
        try triangle.heal("charlie")
        var reported: Double?, bravoEndpoint: Double?, charlieEndpoint: Double?
        let deadline = healStart + 120
        while monotonic() < deadline, reported == nil || bravoEndpoint == nil || charlieEndpoint == nil {
            if bravoEndpoint == nil, triangle.sendsDirect(to: "charlie", from: "bravo") { bravoEndpoint = monotonic() - healStart }
            if charlieEndpoint == nil, triangle.sendsDirect(to: "bravo", from: "charlie") { charlieEndpoint = monotonic() - healStart }
            if reported == nil, triangle.reports("direct", peer: "charlie", seenBy: "bravo") { reported = monotonic() - healStart }
            pause(0.02)
        }
        pause(2)
        let replies = ping.finish()

        let outage = replies.first { $0.sent >= cutDone }.map { $0.arrival - cutWall } ?? .nan
        let beforeCut = replies.last { $0.sent < cutWall }?.sequence ?? 1
        let beforeHeal = replies.last { $0.sent < healWall }?.sequence ?? beforeCut
        let lostRun = PingReply.longestMissingRun(replies, in: beforeCut...max(beforeCut, beforeHeal))
        let afterHeal = replies.filter { $0.sent >= healWall }
        let lostAfterHeal: Int
        if let first = replies.last(where: { $0.sent < healWall })?.sequence, let last = afterHeal.last?.sequence, last > first {
            lostAfterHeal = (last - first) - afterHeal.count
        } else {
            lostAfterHeal = -1
        }
        return Trial(
            nftSeconds: nftSeconds, outage: outage, lostRun: lostRun, relayedVia: relayedVia, reason: entry["reason"] as? String ?? "",
            toReportedDirect: reported ?? .nan, toBravoEndpoint: bravoEndpoint ?? .nan, toCharlieEndpoint: charlieEndpoint ?? .nan,
            lostAfterHeal: lostAfterHeal, loadAverage: load)
    }

    private func report(_ results: [Trial], backend: String) {
        print("relay failover: backend \(backend), \(results.count) trials, ping -i \(interval) bravo → charlie's overlay address,")
        print("warm-up \(warmup) s direct, cut held \(hold) s (nftables drop in charlie), \(settle) s between trials")
        print(machineDescription())
        print("")
        print("| trial | loadavg (1/5/15 min) | nft load (ms) | outage: cut → first reply (s) | longest unanswered run (× \(interval) s) | relayed via | heal → `peers` direct (s) | heal → bravo's WG endpoint direct (s) | heal → charlie's WG endpoint direct (s) | pings lost after heal |")
        print("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|")
        for (index, trial) in results.enumerated() {
            print("| \(index + 1) | \(trial.loadAverage) | \(format(trial.nftSeconds * 1000, 1)) | \(format(trial.outage)) | \(trial.lostRun) (\(format(Double(trial.lostRun) * interval, 2)) s) | \(trial.relayedVia) | \(format(trial.toReportedDirect)) | \(format(trial.toBravoEndpoint)) | \(format(trial.toCharlieEndpoint)) | \(trial.lostAfterHeal) |")
        }
        let outage = Summary(results.map(\.outage))
        let run = Summary(results.map { Double($0.lostRun) * interval })
        let reported = Summary(results.map(\.toReportedDirect))
        let bravo = Summary(results.map(\.toBravoEndpoint))
        let charlie = Summary(results.map(\.toCharlieEndpoint))
        let traffic = Summary(results.map { max($0.toBravoEndpoint, $0.toCharlieEndpoint) })
        print("")
        print("| measure | median (s) | max (s) | min (s) | trials |")
        print("|---|---:|---:|---:|---:|")
        print("| outage: cut → first reply through the relay | \(format(outage.median)) | \(format(outage.maximum)) | \(format(outage.minimum)) | \(outage.count) |")
        print("| outage: longest unanswered run × \(interval) s | \(format(run.median)) | \(format(run.maximum)) | \(format(run.minimum)) | \(run.count) |")
        print("| heal → bravo's `meshctl peers --json` says direct | \(format(reported.median)) | \(format(reported.maximum)) | \(format(reported.minimum)) | \(reported.count) |")
        print("| heal → bravo's WireGuard endpoint for charlie direct | \(format(bravo.median)) | \(format(bravo.maximum)) | \(format(bravo.minimum)) | \(bravo.count) |")
        print("| heal → charlie's WireGuard endpoint for bravo direct | \(format(charlie.median)) | \(format(charlie.maximum)) | \(format(charlie.minimum)) | \(charlie.count) |")
        print("| heal → both endpoints direct (traffic direct both ways) | \(format(traffic.median)) | \(format(traffic.maximum)) | \(format(traffic.minimum)) | \(traffic.count) |")
        print("")
        let met = outage.median <= 1 && outage.maximum <= 2
        print("goal (outage median ≤ 1 s, max ≤ 2 s): \(met ? "met" : "NOT met") — median \(format(outage.median)) s, max \(format(outage.maximum)) s")
        let reasons = Set(results.map(\.reason)).sorted()
        print("reasons reported while relayed: \(reasons.joined(separator: " | "))")
    }
}

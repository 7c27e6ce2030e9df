import BenchmarkSupport
import Foundation
import MeshLab

/// Issue 11, point 5: a lossy direct path weighed against the relay, on real meshd. bravo pings
/// charlie (`ping -i 0.05`) on the direct path; then, for `seconds`, random loss is added:
///
/// - `direct`: charlie drops `percent` % of what it exchanges with bravo, each way (the direct
///   link alone; the relay alpha's legs stay clean): the pair should move to alpha and stay;
/// - `all`: bravo and charlie each drop `percent` % of everything they send and receive (every
///   link; the relayed path crosses as many lossy hops as the direct one): the pair should stay
///   direct.
///
/// Reported per trial: when each end went to the relay (if it did), route changes seen by polling
/// `peers` every 0.25 s, and the share of pings answered in the first 15 s of loss and after.
struct LossyPathBenchmark {
    var seconds = 60.0
    var trials = 3
    var percent = 50
    var links = "direct"
    let interval = 0.05

    struct Trial {
        var bravoRelayedAfter: Double?
        var charlieRelayedAfter: Double?
        var bravoChanges = 0
        var charlieChanges = 0
        var early = 0.0
        var late = 0.0
        var endPath = ""
        var reason = ""
    }

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the mesh (\(backend))")
        let triangle = try Triangle(lab: lab, binaries: binaries, backend: backend)
        guard let target = triangle.mesh["charlie"].overlay.first else { throw LabError.failed("charlie has no overlay address") }
        var results: [Trial] = []
        for trial in 1...trials {
            let result = try runTrial(triangle, target: target)
            results.append(result)
            progress("trial \(trial): bravo relayed after \(result.bravoRelayedAfter.map { format($0) } ?? "—") s, answered \(format(result.early * 100, 0)) % / \(format(result.late * 100, 0)) %, \(result.endPath)")
            pause(15)  // back to direct, and the path manager's relapse window eases
        }
        print("lossy path: backend \(backend); \(percent) % random loss each way on \(links == "direct" ? "the direct link bravo–charlie only (charlie's nftables)" : "every link of bravo and charlie (both hosts' nftables)") for \(Int(seconds)) s; `ping -i \(interval)` bravo → charlie")
        print(machineDescription())
        print("")
        print("| trial | bravo on the relay after (s) | charlie on the relay after (s) | route changes (bravo / charlie) | answered, first 15 s | answered, after 15 s | bravo's path at the end | reason |")
        print("|---:|---:|---:|---|---:|---:|---|---|")
        for (index, trial) in results.enumerated() {
            print("| \(index + 1) | \(trial.bravoRelayedAfter.map { format($0) } ?? "—") | \(trial.charlieRelayedAfter.map { format($0) } ?? "—") | \(trial.bravoChanges) / \(trial.charlieChanges) | \(format(trial.early * 100, 0)) % | \(format(trial.late * 100, 0)) % | \(trial.endPath) | \(trial.reason) |")
        }
    }

    private func runTrial(_ triangle: Triangle, target: String) throws -> Trial {
        let ping = try PingRun(lab: triangle.lab, from: triangle.mesh["bravo"].namespace, to: target, interval: interval)
        defer { _ = ping.finish() }
        guard triangle.waitUntil(timeout: 60, interval: 0.2, {
            triangle.reports("direct", peer: "charlie", seenBy: "bravo") && triangle.reports("direct", peer: "bravo", seenBy: "charlie")
                && ping.replies.count >= 10
        }) != nil else {
            throw LabError.failed("bravo → charlie is not direct with traffic")
        }
        pause(3)
        let startWall = wallClock(), start = monotonic()
        if links == "direct" {
            try triangle.makeLossy("charlie", with: "bravo", percent: percent)
        } else {
            try triangle.makeLossy("bravo", with: nil, percent: percent)
            try triangle.makeLossy("charlie", with: nil, percent: percent)
        }
        var result = Trial()
        var bravoPath = "direct", charliePath = "direct"
        var reason = ""
        while monotonic() - start < seconds {
            let bravoEntry = (try? triangle.peer("charlie", seenBy: "bravo")) ?? [:]
            let charlieEntry = (try? triangle.peer("bravo", seenBy: "charlie")) ?? [:]
            let now = monotonic() - start
            if let path = bravoEntry["path"] as? String, path != bravoPath {
                bravoPath = path
                result.bravoChanges += 1
                if path == "relay", result.bravoRelayedAfter == nil { result.bravoRelayedAfter = now }
                if path == "relay", let text = bravoEntry["reason"] as? String { reason = text }
            }
            if let path = charlieEntry["path"] as? String, path != charliePath {
                charliePath = path
                result.charlieChanges += 1
                if path == "relay", result.charlieRelayedAfter == nil { result.charlieRelayedAfter = now }
            }
            pause(0.25)
        }
        result.endPath = Triangle.relayedVia((try? triangle.peer("charlie", seenBy: "bravo")) ?? [:])
        result.reason = reason
        let replies = ping.finish()
        for host in links == "direct" ? ["charlie"] : ["bravo", "charlie"] { try triangle.makeClean(host) }
        let settled = startWall + 15
        let end = startWall + seconds
        // By sequence numbers (ping's real rate is below 1/interval on a loaded host): the
        // requests sent in the window are those between the first and the last answered in it.
        func share(_ from: Double, _ to: Double) -> Double {
            let answered = replies.filter { $0.sent >= from && $0.sent < to }.map(\.sequence)
            guard let first = answered.min(), let last = answered.max() else { return 0 }
            return Double(answered.count) / Double(last - first + 1)
        }
        result.early = share(startWall, settled)
        result.late = share(settled, end - 2)  // the last replies may still be on their way
        return result
    }
}

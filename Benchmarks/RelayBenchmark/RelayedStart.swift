import BenchmarkSupport
import Foundation
import MeshLab
import Synchronization

/// Issue 11, point 4: how long a pair whose direct path is blocked from the start takes to talk
/// through the relay. All three hosts are enrolled and know each other (members.db); per trial
/// bravo and charlie are stopped, their WireGuard interfaces deleted (no session survives), the
/// direct path between them blocked, and both started at once while bravo pings charlie's overlay
/// address every 100 ms. Measured: both daemons launched → first reply.
struct RelayedStartBenchmark {
    var trials = 10
    var interval = 0.1
    /// Seconds to wait for the first reply before a trial counts as failed.
    var patience = 30.0

    struct Trial {
        var firstReply: Double
        var relayedVia: String
        var relayAllocations: Int
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
            progress(String(format: "trial %d: first reply after %.3f s, relayed via %@, relay log shows %d allocation(s)",
                            index, trial.firstReply, trial.relayedVia, trial.relayAllocations))
        }
        report(results, backend: backend)
    }

    private func runTrial(_ triangle: Triangle, target: String) throws -> Trial {
        let load = loadAverage()
        let pair = [triangle.mesh["bravo"], triangle.mesh["charlie"]]
        for node in pair {
            node.stopDaemon()
            let peers = (try? node.run(["wg", "show", node.interface, "peers"], check: false).output) ?? ""
            for key in peers.split(separator: "\n") where !key.isEmpty {
                try node.run(["wg", "set", node.interface, "peer", String(key), "remove"])
            }
        }
        // The relay starts afresh too (no allocation left from the previous trial), before the pair.
        let relay = triangle.mesh["alpha"]
        relay.stopDaemon()
        try relay.startDaemon()
        let relayLog = relay.logPath
        let relayLogStart = (try? FileManager.default.attributesOfItem(atPath: relayLog)[.size] as? Int) ?? 0
        try triangle.cut("charlie", from: "bravo")
        defer { try? triangle.heal("charlie") }
        let ping = try PingRun(lab: triangle.lab, from: triangle.mesh["bravo"].namespace, to: target, interval: interval)
        let started = wallClock()
        // Both at once: each start waits for its daemon's control socket.
        let failures = LockedList()
        DispatchQueue.concurrentPerform(iterations: pair.count) { index in
            do { try pair[index].startDaemon() } catch { failures.append("\(error)") }
        }
        if let failure = failures.items.first { throw LabError.failed(failure) }
        let deadline = monotonic() + patience
        while monotonic() < deadline, ping.replies.isEmpty { pause(0.05) }
        pause(1)
        let replies = ping.finish()
        let relayedVia = triangle.relayedVia("charlie", seenBy: "bravo")
        let relayText = (try? String(contentsOfFile: relayLog, encoding: .utf8)) ?? ""
        let newLog = relayText.utf8.count > relayLogStart ? String(decoding: Array(relayText.utf8)[relayLogStart...], as: UTF8.self) : ""
        let allocations = newLog.split(separator: "\n").filter { $0.contains("relaying") && $0.contains("pair=") && !$0.contains("asked again") }.count
        return Trial(
            firstReply: replies.first.map { $0.arrival - started } ?? .nan, relayedVia: relayedVia, relayAllocations: allocations, loadAverage: load)
    }

    private func report(_ results: [Trial], backend: String) {
        print("relayed start: backend \(backend), \(results.count) trials; bravo–charlie blocked from the start, alpha relays;")
        print("bravo and charlie started together (interfaces deleted first), ping -i \(interval) bravo → charlie's overlay address")
        print(machineDescription())
        print("")
        print("| trial | loadavg (1/5/15 min) | start → first reply (s) | path afterwards | pairs allocated by alpha |")
        print("|---:|---|---:|---|---:|")
        for (index, trial) in results.enumerated() {
            print("| \(index + 1) | \(trial.loadAverage) | \(format(trial.firstReply)) | \(trial.relayedVia) | \(trial.relayAllocations) |")
        }
        let first = Summary(results.map(\.firstReply))
        print("")
        print("| measure | median (s) | max (s) | min (s) | trials |")
        print("|---|---:|---:|---:|---:|")
        print("| start → first reply through the relay | \(format(first.median)) | \(format(first.maximum)) | \(format(first.minimum)) | \(first.count) |")
        let met = first.count == results.count && first.median <= 1 && first.maximum <= 2
        print("")
        print("goal (median ≤ 1 s, max ≤ 2 s): \(met ? "met" : "NOT met") — median \(format(first.median)) s, max \(format(first.maximum)) s")
    }
}

/// Strings appended from several threads.
final class LockedList: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ item: String) { storage.withLock { $0.append(item) } }
    var items: [String] { storage.withLock { $0 } }
}

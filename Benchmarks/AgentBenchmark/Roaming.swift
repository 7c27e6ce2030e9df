import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 2: `ping -i 0.05` from every other host of the demo mesh to bravo's overlay IPv4
/// address while bravo's underlay addresses change (IPv4 and IPv6 together, as a new DHCP lease:
/// `DemoMesh.move`); bravo alternates between .2/::2 and .20/::20. The outage is the longest gap
/// between two replies of a stream.
struct RoamingBenchmark {
    var trials = 10
    var interval = 0.05
    /// Seconds of pings before the move.
    var before = 2.0
    /// Seconds of pings after every host's WireGuard follows bravo.
    var after = 2.0
    /// Seconds between trials.
    var settle = 3.0

    static let addresses = [["198.51.100.2", "2001:db8:100::2"], ["198.51.100.20", "2001:db8:100::20"]]

    struct Trial {
        /// Longest gap between replies, per source host.
        var gap: [String: Double]
        /// Unanswered requests before the last reply, per source host.
        var lost: [String: Int]
        /// Move → that host's WireGuard endpoint for bravo is on the new address.
        var follow: [String: Double]
        var loadAverage: String
    }

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the demo mesh (\(backend))")
        let mesh = try DemoMesh.enrolled(lab: lab, binaries: binaries, directory: try labDirectory(lab), backend: backend)
        let bravo = mesh["bravo"]
        let sources = mesh.others(than: bravo)
        let key = try bravo.status()["wireGuardPublicKey"] as? String ?? ""
        guard let target = bravo.overlay.first else { throw LabError.failed("bravo has no overlay address") }
        // Every pair answers before the first trial.
        for source in sources {
            guard waitUntil(timeout: 45, interval: 0.2, { ((try? mesh.lab.ping(target, from: source.namespace, count: 1, interval: 0.2, wait: 1))?.received ?? 0) > 0 }) != nil
            else { throw LabError.failed("\(source.name) does not reach bravo\n\(mesh.diagnostics())") }
        }
        var results: [Trial] = []
        for index in 1...trials {
            let destination = Self.addresses[index % 2]
            let trial = try runTrial(mesh, bravo: bravo, sources: sources, target: target, key: key, to: destination)
            results.append(trial)
            progress("trial \(index) → \(destination[0]): gaps " + sources.map { "\($0.name) \(format(trial.gap[$0.name] ?? .nan))" }.joined(separator: ", ")
                + "; lost " + sources.map { "\(trial.lost[$0.name] ?? -1)" }.joined(separator: "/"))
            if index < trials { pause(settle) }
        }
        report(results, sources: sources.map(\.name), backend: backend)
    }

    private func runTrial(_ mesh: DemoMesh, bravo: MeshLabNode, sources: [MeshLabNode], target: String, key: String, to destination: [String]) throws -> Trial {
        let load = loadAverage()
        let streams = try sources.map { try PingStream(lab: mesh.lab, target: target, from: $0.namespace, interval: interval) }
        pause(before)
        let moveStart = monotonic()
        try mesh.move(bravo, to: destination)
        var follow: [String: Double] = [:]
        _ = waitUntil(timeout: 60, interval: 0.05) {
            for source in sources where follow[source.name] == nil {
                if let endpoint = (try? source.wireGuardDump().peer(key))?.endpoint, destination.contains(endpointHost(endpoint)) {
                    follow[source.name] = monotonic() - moveStart
                }
            }
            return follow.count == sources.count
        }
        pause(after)
        var gap: [String: Double] = [:], lost: [String: Int] = [:]
        for (source, stream) in zip(sources, streams) {
            let summary = try stream.finish(interrupt: true)
            gap[source.name] = summary.longestGap?.seconds ?? .nan
            lost[source.name] = summary.missingSequences.count
        }
        return Trial(gap: gap, lost: lost, follow: follow, loadAverage: load)
    }

    private func report(_ results: [Trial], sources: [String], backend: String) {
        print("roaming outage: backend \(backend), \(results.count) trials; bravo's underlay (IPv4 and IPv6) moves between .2/::2 and .20/::20;")
        print("`ping -i \(interval)` from each other host to bravo's overlay IPv4 address, \(before) s before the move to \(after) s after every host's WireGuard follows")
        print(machineDescription())
        print("")
        print("| trial | loadavg (1/5/15 min) | " + sources.map { "\($0): longest gap (s) / lost" }.joined(separator: " | ") + " | " + sources.map { "\($0): WG endpoint follows (s)" }.joined(separator: " | ") + " |")
        print("|---:|---|" + sources.map { _ in "---:" }.joined(separator: "|") + "|" + sources.map { _ in "---:" }.joined(separator: "|") + "|")
        for (index, trial) in results.enumerated() {
            print("| \(index + 1) | \(trial.loadAverage) | " + sources.map { "\(format(trial.gap[$0] ?? .nan)) / \(trial.lost[$0] ?? -1)" }.joined(separator: " | ")
                + " | " + sources.map { format(trial.follow[$0] ?? .nan) }.joined(separator: " | ") + " |")
        }
        print("")
        print("| measure | median | max | min | trials |")
        print("|---|---:|---:|---:|---:|")
        for source in sources {
            let gap = Summary(results.map { $0.gap[source] ?? .nan })
            print("| \(source) → bravo: outage (longest gap between replies, s) | \(format(gap.median)) | \(format(gap.maximum)) | \(format(gap.minimum)) | \(gap.count) |")
        }
        for source in sources {
            let lost = Summary(results.map { Double($0.lost[source] ?? -1) })
            print("| \(source) → bravo: pings lost | \(format(lost.median, 1)) | \(format(lost.maximum, 0)) | \(format(lost.minimum, 0)) | \(lost.count) |")
        }
        for source in sources {
            let follow = Summary(results.map { $0.follow[source] ?? .nan })
            print("| move → \(source)'s WireGuard endpoint for bravo on the new address (s) | \(format(follow.median)) | \(format(follow.maximum)) | \(format(follow.minimum)) | \(follow.count) |")
        }
        let worst = Summary(results.map { trial in sources.map { trial.gap[$0] ?? .nan }.max() ?? .nan })
        print("| worst of the four streams: outage (s) | \(format(worst.median)) | \(format(worst.maximum)) | \(format(worst.minimum)) | \(worst.count) |")
        print("")
        let alpha = Summary(results.map { $0.gap["alpha"] ?? .nan })
        print("goal (roaming outage ≤ 1 s): alpha → bravo \(alpha.maximum <= 1 ? "met" : "NOT met") (median \(format(alpha.median)) s, max \(format(alpha.maximum)) s); every stream \(worst.maximum <= 1 ? "met" : "NOT met") (worst median \(format(worst.median)) s, max \(format(worst.maximum)) s)")
    }
}

import BenchmarkSupport
import Foundation
import MeshLab

/// Issue 11, point 5: meshd's own packets between bravo and charlie (their gossip ports, both
/// directions, counted by nftables in bravo's namespace) while the pair carries two-way traffic
/// (`ping -i 0.05`, direct path), against the same pair idle. Goal: ≤ 1 packet per second per
/// direction with traffic.
struct QuietPathBenchmark {
    var seconds = 20.0
    var trials = 3

    struct Reading {
        var traffic: Bool
        var out: Int
        var into: Int
        var replies: Int
    }

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the mesh (\(backend))")
        let triangle = try Triangle(lab: lab, binaries: binaries, backend: backend)
        let bravo = triangle.mesh["bravo"], charlie = triangle.mesh["charlie"]
        guard let target = charlie.overlay.first else { throw LabError.failed("charlie has no overlay address") }
        var rules: [String] = []
        for address in charlie.underlay {
            let family = address.contains(":") ? "ip6" : "ip"
            rules.append("chain output_\(family) { type filter hook output priority 0; \(family) daddr \(address) udp dport 51821 counter name to_charlie; }")
            rules.append("chain input_\(family) { type filter hook input priority 0; \(family) saddr \(address) udp sport 51821 counter name from_charlie; }")
        }
        try lab.nft("table inet quietbench {\ncounter to_charlie {}\ncounter from_charlie {}\n\(rules.joined(separator: "\n"))\n}", in: bravo.namespace)
        defer { _ = try? lab.run(["nft", "delete", "table", "inet", "quietbench"], in: bravo.namespace) }
        var readings: [Reading] = []
        for trial in 1...trials {
            for traffic in [true, false] {
                let ping = traffic ? try PingRun(lab: lab, from: bravo.namespace, to: target, interval: 0.05) : nil
                pause(3)  // settle: the path is in use (or idle) before counting
                let before = try counters(lab, bravo.namespace)
                pause(seconds)
                let after = try counters(lab, bravo.namespace)
                let replies = ping?.finish().count ?? 0
                let reading = Reading(traffic: traffic, out: after.0 - before.0, into: after.1 - before.1, replies: replies)
                readings.append(reading)
                progress(String(format: "trial %d, %@: %d out, %d in over %.0f s", trial, traffic ? "ping -i 0.05" : "idle", reading.out, reading.into, seconds))
                pause(12)  // the path manager's activity window (10 s) passes between the two
            }
        }
        print("quiet path: backend \(backend); meshd's packets between bravo and charlie (gossip port 51821, counted in bravo),")
        print("\(Int(seconds)) s windows, with `ping -i 0.05` bravo → charlie (direct) and with the pair idle")
        print(machineDescription())
        print("")
        print("| window | traffic | bravo → charlie (packets/s) | charlie → bravo (packets/s) | ping replies |")
        print("|---:|---|---:|---:|---:|")
        for (index, reading) in readings.enumerated() {
            print("| \(index + 1) | \(reading.traffic ? "ping -i 0.05" : "idle") | \(format(Double(reading.out) / seconds, 2)) | \(format(Double(reading.into) / seconds, 2)) | \(reading.traffic ? "\(reading.replies)" : "—") |")
        }
        let busy = readings.filter(\.traffic)
        let worst = busy.map { Double(max($0.out, $0.into)) / seconds }.max() ?? .nan
        print("")
        print("goal (≤ 1 packet/s per direction with two-way traffic): \(worst <= 1 ? "met" : "NOT met") — worst \(format(worst, 2)) packets/s")
    }

    private func counters(_ lab: Lab, _ namespace: String) throws -> (Int, Int) {
        func packets(_ name: String) throws -> Int {
            let output = try lab.run(["nft", "list", "counter", "inet", "quietbench", name], in: namespace).output
            guard let range = output.range(of: "packets ") else { throw LabError.failed("no counter \(name): \(output)") }
            return Int(output[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return (try packets("to_charlie"), try packets("from_charlie"))
    }
}

import BenchmarkSupport
import Foundation
import MeshLab

/// Issue 13: how soon WireGuard follows a routing daemon's route. The BIRD set-up of the lab test
/// (``DemoMesh/routingDaemonMesh(lab:binaries:directory:backend:prefix:prefix6:)``); in each trial
/// delta's LAN link goes down (BIRD withdraws 10.9.4.0/24 over BGP), then up again (announced):
/// measured at bravo, from the moment its kernel route changed (BIRD's `protocol kernel`) to the
/// moment delta's WireGuard allowed IPs agree (meshd's rtnetlink wake-up, re-read, plan, apply).
/// The polling costs a few milliseconds per look (`ip`, then `meshctl peers` and `wg`), counted in.
struct DaemonRoutesBenchmark {
    var trials = 10
    /// Seconds between steps.
    var settle = 2.0

    func run(lab: Lab, binaries: String, backend: String) throws {
        progress("building the routing-daemon mesh with BIRD (\(backend))")
        let (mesh, _, _) = try DemoMesh.routingDaemonMesh(
            lab: lab, binaries: binaries, directory: try labDirectory(lab), backend: backend, prefix: "100.80.0.0/16", prefix6: "fd5a:1::/48")
        guard waitUntil(timeout: 60, interval: 0.5, { mesh.allowedIPs(at: "bravo", of: "delta").contains("10.9.4.0/24") }) != nil else {
            throw LabError.failed("bravo never routed delta's LAN through delta\n\(mesh.diagnostics())")
        }
        var withdrawn: [Double] = [], announced: [Double] = []
        for index in 1...trials {
            pause(settle)
            try mesh.setLAN(of: "delta", announced: false)
            withdrawn.append(try mesh.routeMove(at: "bravo", prefix: "10.9.4.0/24", member: "delta", present: false))
            pause(settle)
            try mesh.setLAN(of: "delta", announced: true)
            announced.append(try mesh.routeMove(at: "bravo", prefix: "10.9.4.0/24", member: "delta", present: true))
            progress(String(format: "trial %d: withdrawn %.3f s, announced %.3f s", index, withdrawn.last ?? .nan, announced.last ?? .nan))
        }
        print("### Routing daemon → WireGuard (\(backend), \(trials) trials)\n")
        print("Machine: \(machineDescription())\n")
        print("| change | median | min | max |")
        print("|---|---|---|---|")
        for (name, values) in [("route withdrawn", withdrawn), ("route announced", announced)] {
            let summary = Summary(values)
            print("| \(name) | \(format(summary.median)) s | \(format(summary.minimum)) s | \(format(summary.maximum)) s |")
        }
    }
}

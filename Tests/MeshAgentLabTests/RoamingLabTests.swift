import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    @Test("roaming: bravo's underlay moves (IPv4 and IPv6); every peer follows it, directly or through NAT")
    func roaming() throws {
        try withMesh(DemoMesh.names, backend: backend) { mesh in
            let bravo = mesh["bravo"]
            let others = mesh.others(than: bravo)
            let key = try bravo.status()["wireGuardPublicKey"] as? String ?? ""
            let streams = try others.map { try PingStream(lab: mesh.lab, target: bravo.overlay[0], from: $0.namespace, interval: 0.05) }
            usleep(1_000_000)

            try mesh.move(bravo, to: ["198.51.100.20", "2001:db8:100::20"])
            let newHosts = ["198.51.100.20", "2001:db8:100::20"]

            for host in others {
                let followed = try eventually(timeout: 60) {
                    guard let endpoint = try host.wireGuardDump().peer(key)?.endpoint else { return false }
                    return newHosts.contains(endpointHost(endpoint)) && reaches(bravo.overlay[0], from: host, in: mesh)
                }
                let endpoint = (try? host.wireGuardDump().peer(key)?.endpoint) ?? nil
                #expect(followed, "\(host.name) did not follow bravo: WireGuard endpoint \(endpoint ?? "none")")
                var reported: [String: Any] = [:]
                let shown = try eventually(timeout: 30) {
                    reported = try host.peers().first { $0["name"] as? String == "bravo" } ?? [:]
                    return newHosts.contains(endpointHost(reported["endpoint"] as? String ?? "")) && reported["path"] as? String == "direct"
                }
                #expect(shown, "\(host.name): peers --json shows bravo as \(reported)")
            }
            #expect(reaches(mesh["alpha"].overlay[1], from: bravo, in: mesh), "bravo reaches alpha from its new address")
            for (host, stream) in zip(others, streams) {
                // Informational: the benchmark measures the outage (docs/benchmarks.md).
                let summary = try stream.finish(interrupt: true)
                print("roaming: \(host.name) → bravo: \(summary)")
            }
        }
    }
}

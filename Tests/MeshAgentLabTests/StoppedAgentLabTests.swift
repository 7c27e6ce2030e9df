import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    @Test("a meshd stopped longer than the suspicion timeout: peers declare it dead, but its working tunnels carry on; it comes back alive")
    func stoppedAgentKeepsWorkingTunnels() throws {
        try withMesh(["alpha", "bravo", "charlie"], backend: backend) { mesh in
            let alpha = mesh["alpha"], bravo = mesh["bravo"]
            let bravoKey = try bravo.status()["wireGuardPublicKey"] as? String ?? ""
            let stream = try PingStream(lab: mesh.lab, target: bravo.overlay[0], from: alpha.namespace, interval: 0.1)
            usleep(1_000_000)
            bravo.stopDaemon()
            let declaredDead = try eventually(timeout: 120) {
                try alpha.peers().first { $0["name"] as? String == "bravo" }?["state"] as? String == "dead"
            }
            #expect(declaredDead, "alpha never declared bravo dead while its meshd was stopped")
            usleep(3_000_000)  // a few reconciliations with bravo dead
            #expect(try alpha.wireGuardDump().peer(bravoKey) != nil, "alpha removed bravo's WireGuard peer although the tunnel worked")
            let summary = try stream.finish(interrupt: true)
            #expect(summary.received > 50 && summary.missingSequences.isEmpty && summary.lost <= 1,
                    "alpha → bravo with bravo's meshd stopped: \(summary), missing icmp_seq \(summary.missingSequences)")
            try bravo.startDaemon()
            let alive = try eventually(timeout: 60) {
                try alpha.peers().first { $0["name"] as? String == "bravo" }?["state"] as? String == "alive"
            }
            #expect(alive, "bravo is not alive again after its meshd started")
        }
    }
}

import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    @Test("five hosts enroll with invite/join: every pair pings over WireGuard; peers and status JSON match the topology")
    func fiveHosts() throws {
        try withMesh(DemoMesh.names, backend: backend) { mesh in
            let unanswered = unansweredPairs(in: mesh)
            #expect(unanswered.isEmpty, "pairs that never reached each other over WireGuard: \(unanswered)")
            let problems = try reportProblems(in: mesh, backend: backend)
            #expect(problems.isEmpty, "peers / status --json:\n\(problems.joined(separator: "\n"))")
        }
    }
}

import Foundation
import MeshAgent
import Testing
import MeshControl

@Suite("StatusReport JSON")
struct StatusReportEncodingTests {
    @Test("a node waiting for init or join prints every key, unknown ones as null")
    func waitingNodeKeepsEveryKey() throws {
        let report = StatusReport(
            name: nil, id: nil, network: nil, networkID: nil, enrollment: "waiting", interface: "mesh0", backend: "userspace",
            addresses: [], peerCount: 0, membersByState: [:], drops: [:], authority: false, roles: [], wireGuardPublicKey: "k",
            listenPort: 51820, gossipPort: 51821, gossipEndpoints: [], wireGuardEndpoints: [], behindNAT: false, recordVersion: nil,
            certificateExpiresAt: nil, uptimeSeconds: 1, version: "0", lastError: nil, relay: nil)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        for key in ["name", "id", "network", "networkID", "recordVersion", "certificateExpiresAt", "lastError", "relay"] {
            #expect(object[key] is NSNull, "\(key) must be present as null")
        }
        for key in ["interface", "backend", "addresses", "peerCount", "drops", "enrollment"] { #expect(object[key] != nil, "\(key)") }
        #expect(try JSONDecoder().decode(StatusReport.self, from: JSONEncoder().encode(report)) == report)
    }
}

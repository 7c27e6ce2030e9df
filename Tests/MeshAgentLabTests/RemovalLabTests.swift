import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    @Test("revoke (on the authority) and leave (on the node): the node's WireGuard peer disappears everywhere; peers shows revoked / left")
    func revokeAndLeave() throws {
        try withMesh(["alpha", "bravo", "charlie", "delta"], backend: backend) { mesh in
            let alpha = mesh["alpha"], bravo = mesh["bravo"], charlie = mesh["charlie"], delta = mesh["delta"]
            let keys = try Dictionary(uniqueKeysWithValues: mesh.nodes.map { ($0.name, try $0.status()["wireGuardPublicKey"] as? String ?? "") })
            for host in mesh.nodes where host !== charlie {
                #expect(try host.wireGuardDump().peer(keys["charlie"] ?? "") != nil, "\(host.name) has charlie's peer before the revocation")
            }

            let revoke = try alpha.meshctl(["revoke", "charlie"])
            #expect(revoke.status == 0 && revoke.output.contains("revoked charlie"), "meshctl revoke: \(revoke)")
            let leave = try delta.meshctl(["leave"])
            #expect(leave.status == 0 && leave.output.contains("left the network"), "meshctl leave: \(leave) \(leave.output)")

            // Every remaining member drops both peers from WireGuard and reports why.
            for host in [alpha, bravo] {
                let gone = try eventually(timeout: 60) {
                    let dump = try host.wireGuardDump()
                    return dump.peer(keys["charlie"] ?? "") == nil && dump.peer(keys["delta"] ?? "") == nil
                }
                let remaining = (try? host.wireGuardDump().peers.map(\.publicKey)) ?? []
                #expect(gone, "\(host.name) still has a WireGuard peer for charlie or delta: \(remaining)")
                let states = Dictionary(try host.peers().map { ($0["name"] as? String ?? "?", $0["state"] as? String ?? "?") }, uniquingKeysWith: { $1 })
                #expect(states["charlie"] == nil || states["charlie"] == "revoked", "\(host.name) sees charlie as \(states["charlie"] ?? "-")")
                #expect(states["delta"] == nil || states["delta"] == "left", "\(host.name) sees delta as \(states["delta"] ?? "-")")
                #expect(states["alpha"] == "alive" || states["bravo"] == "alive", "\(host.name): the others stay alive: \(states)")
            }
            // The leaver deleted its interface (peers and overlay addresses with it) and waits for a new enrollment.
            #expect((try? delta.wireGuardDump()) == nil, "delta keeps its WireGuard interface after leaving: \(String(describing: try? delta.wireGuardDump()))")
            #expect(try delta.status()["enrollment"] as? String == "waiting")
            // The revoked node is cut off: nobody answers it any more.
            #expect(!reaches(alpha.overlay[0], from: charlie, in: mesh), "charlie still reaches alpha after its revocation")
            #expect(!reaches(alpha.overlay[0], from: delta, in: mesh), "delta still reaches alpha after leaving")
            // And the rest of the mesh still works.
            #expect(reaches(bravo.overlay[0], from: alpha, in: mesh) && reaches(alpha.overlay[1], from: bravo, in: mesh), "alpha and bravo still reach each other")
        }
    }
}

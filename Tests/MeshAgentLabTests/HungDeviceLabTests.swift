import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    /// A device call blocks until wireguard-go answers or the UAPI timeout (10 s). When the agent
    /// made them on its own actor, a stopped wireguard-go held every probe answer and control request
    /// for 10 s at a time: peers suspected the host and `meshctl status` hung.
    @Test(
        "a hung wireguard-go (stopped for 15 s) holds no probe: the host stays alive for its peers, meshctl answers, traffic resumes",
        .enabled(if: AgentLab.setting == AgentLab.Backend.userspace.rawValue, "wireguard-go only: kernel WireGuard has no daemon to hang"))
    func hungWireGuardHoldsNoProbe() throws {
        try withMesh(["alpha", "bravo", "charlie"], backend: backend) { mesh in
            let alpha = mesh["alpha"], bravo = mesh["bravo"], charlie = mesh["charlie"]
            let daemon = try #require(try wireGuardGo(in: bravo.namespace, lab: mesh.lab), "no wireguard-go in bravo's namespace")
            kill(daemon, SIGSTOP)
            defer { kill(daemon, SIGCONT) }
            var seenAs: Set<String> = [], slowestStatus = 0.0
            let end = Date().addingTimeInterval(15)
            while Date() < end {
                let asked = Date()
                _ = try bravo.status()
                slowestStatus = max(slowestStatus, Date().timeIntervalSince(asked))
                for observer in [alpha, charlie] {
                    if let state = try observer.peers().first(where: { $0["name"] as? String == "bravo" })?["state"] as? String {
                        seenAs.insert(state)
                    }
                }
                usleep(300_000)
            }
            kill(daemon, SIGCONT)
            #expect(seenAs == ["alive"], "bravo's peers saw it as \(seenAs.sorted()) while its wireguard-go was stopped")
            #expect(slowestStatus < 5, "meshctl status on bravo took up to \(slowestStatus) s while its wireguard-go was stopped")
            #expect(eventually(timeout: 30) { reaches(bravo.overlay[0], from: alpha, in: mesh) && reaches(alpha.overlay[0], from: bravo, in: mesh) },
                    "alpha ↔ bravo does not work again after wireguard-go resumed")
        }
    }

    /// The wireguard-go process meshd started in `namespace` (a namespace of this lab: its processes are ours).
    private func wireGuardGo(in namespace: String, lab: Lab) throws -> pid_t? {
        let pids = try lab.run(["ip", "netns", "pids", namespace]).output.split(whereSeparator: \.isNewline).compactMap { pid_t($0) }
        let daemons = pids.filter { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8))?.hasPrefix("wireguard-go") == true }
        return daemons.count == 1 ? daemons[0] : nil
    }
}

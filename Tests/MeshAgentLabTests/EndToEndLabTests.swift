import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    /// The scenario the kernel tier runs in the VM (kept small: emulation is slow); the lab tier runs
    /// it on wireguard-go too.
    @Test("end to end: three hosts (one behind NAT) enroll, every pair pings (overlay and link-local), peers JSON, a meshd restart loses no ping")
    func endToEnd() throws {
        try withMesh(["alpha", "bravo", "delta"], backend: backend) { mesh in
            let unanswered = unansweredPairs(in: mesh)
            #expect(unanswered.isEmpty, "pairs that never reached each other over WireGuard: \(unanswered)")
            let problems = try reportProblems(in: mesh, backend: backend)
            #expect(problems.isEmpty, "peers / status --json:\n\(problems.joined(separator: "\n"))")
            let linkLocal = try linkLocalProblems(in: mesh)
            #expect(linkLocal.isEmpty, "link-local addresses:\n\(linkLocal.joined(separator: "\n"))")
            // `peers --watch` refreshes once a second (one JSON array per line when not on a terminal).
            // (SIGKILL: the test runner may block SIGTERM, and its children inherit the mask.)
            let alpha = mesh["alpha"]
            let watched = try mesh.lab.run(
                ["timeout", "-s", "KILL", "2.5", AgentLab.binaries + "/meshctl", "--state-dir", alpha.stateDirectory, "peers", "--watch", "--json"], check: false)
            let refreshes = watched.output.split(separator: "\n").filter { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])?.count == 2
            }
            #expect(refreshes.count >= 2, "peers --watch --json printed: \(watched.output)")
            // `meshctl graph`: DOT that Graphviz parses, with every member and alpha's direct paths.
            let dot = try alpha.meshctlChecked(["graph"])
            #expect(mesh.nodes.allSatisfy { dot.contains("\"m:\($0.name)\"") } && dot.contains("\"m:alpha\" -- \"m:bravo\""), "graph:\n\(dot)")
            let parsed = try mesh.lab.run(["dot", "-Tcanon"], input: dot, check: false)
            #expect(parsed.succeeded, "dot refuses meshctl graph's output: \(parsed.errorOutput)\n\(dot)")
            #expect(try alpha.meshctlChecked(["graph", "--format", "svg"]).contains("<svg"))
            try restartWithoutLoss(mesh["bravo"], in: mesh)
        }
    }

    /// Streams pings to `target`'s overlay addresses from every other host (IPv4 and IPv6 in turn)
    /// while its meshd stops (SIGTERM) and starts again; no ping may go unanswered, and WireGuard
    /// must keep the same peers and endpoints.
    func restartWithoutLoss(_ target: MeshLabNode, in mesh: DemoMesh) throws {
        let sources = mesh.others(than: target)
        let streams = try sources.enumerated().map { index, source in
            try PingStream(lab: mesh.lab, target: target.overlay[index % target.overlay.count], from: source.namespace, interval: 0.05)
        }
        usleep(1_000_000)
        let before = try target.wireGuardDump()
        target.stopDaemon()
        usleep(1_000_000)  // traffic keeps flowing with meshd down
        let whileDown = try target.wireGuardDump()
        try target.startDaemon()
        let converged = try eventually(timeout: 60) {
            try target.peers().filter { $0["state"] as? String == "alive" }.count == sources.count
        }
        #expect(converged, "\(target.name) did not see every peer alive again after the restart")
        usleep(1_000_000)
        let after = try target.wireGuardDump()
        for (source, stream) in zip(sources, streams) {
            let summary = try stream.finish(interrupt: true)
            #expect(summary.received > 20 && summary.missingSequences.isEmpty,
                    "\(source.name) → \(target.name) (\(stream.target)) across the restart: \(summary), missing icmp_seq \(summary.missingSequences)")
        }
        #expect(whileDown.peers.count == sources.count, "the interface and its peers stay while meshd is down: \(whileDown.peers)")
        #expect(Set(after.peers.map(\.publicKey)) == Set(before.peers.map(\.publicKey)), "the same peers after the restart")
        let changed = before.peers.filter { after.peer($0.publicKey)?.endpoint != $0.endpoint }
        #expect(changed.isEmpty, """
            endpoints changed across the restart: \(changed.map { "\($0.publicKey) \($0.endpoint ?? "-") → \(after.peer($0.publicKey)?.endpoint ?? "-")" })
            --- \(target.name): meshd log
            \(target.log(lastLines: 120))
            """)
    }
}

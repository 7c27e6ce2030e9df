import Foundation

extension DemoMesh {
    /// Each host's `meshctl peers` and the end of its meshd log, for failure messages.
    public func diagnostics(logLines: Int = 25) -> String {
        nodes.map { host in
            let peers = (try? host.meshctl(["peers"], timeout: 10).output) ?? "(meshctl peers failed)"
            return "--- \(host.name): meshctl peers\n\(peers)\n--- \(host.name): meshd log\n\(host.log(lastLines: logLines))"
        }.joined(separator: "\n")
    }

    /// The hosts other than `host`.
    public func others(than host: MeshLabNode) -> [MeshLabNode] { nodes.filter { $0 !== host } }
}

import Foundation
import MeshLab
import Testing

/// What is wrong with the mesh's link-local addresses (issue 13): each host's interface carries
/// exactly one, `fe80::` with its node ID, reported by `status --json`; every peer reports the
/// other's; and each pair pings the other's link-local address over the mesh interface (the
/// routing daemons' way: `fe80::…%mesh`). Tried until right or `timeout` passes.
func linkLocalProblems(in mesh: DemoMesh, timeout: Double = 30) throws -> [String] {
    var problems: [String] = []
    var linkLocal: [String: String] = [:]
    for host in mesh.nodes {
        let status = try host.status()
        guard let address = status["linkLocal"] as? String, let id = status["id"] as? String else {
            problems.append("\(host.name): status has no linkLocal or id: \(status["linkLocal"] ?? "nil")")
            continue
        }
        linkLocal[host.name] = address
        let groups = stride(from: 0, to: 16, by: 4).map { offset in
            String(id.dropFirst(offset).prefix(4).drop { $0 == "0" })
        }
        if groups.contains("") {
            // A zero group compresses differently; the node ID test in MeshCoreTests covers the rule.
        } else if address != "fe80::" + groups.joined(separator: ":") {
            problems.append("\(host.name): link-local \(address) is not fe80:: with node ID \(id)")
        }
        let shown = try mesh.lab.run(["ip", "-6", "-o", "addr", "show", "dev", host.interface, "scope", "link"], in: host.namespace).output
        let onInterface = shown.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard let index = fields.firstIndex(of: "inet6"), index + 1 < fields.count else { return nil }
            return String(fields[index + 1])
        }
        if onInterface != [address + "/64"] {
            problems.append("\(host.name): \(host.interface) carries link-local \(onInterface), want exactly [\(address)/64]")
        }
    }
    guard problems.isEmpty else { return problems }
    try eventually(timeout: timeout, every: 0.5) {
        problems = []
        for host in mesh.nodes {
            let reported = Dictionary(try host.peers().map { ($0["name"] as? String ?? "?", $0["linkLocal"] as? String ?? "null") }) { first, _ in first }
            for other in mesh.others(than: host) {
                guard let address = linkLocal[other.name] else { continue }
                if reported[other.name] != address {
                    problems.append("\(host.name) reports \(other.name)'s link-local as \(reported[other.name] ?? "nothing"), want \(address)")
                }
                if !reaches("\(address)%\(host.interface)", from: host, in: mesh) {
                    problems.append("\(host.name) cannot ping \(other.name) at \(address)%\(host.interface)")
                }
            }
        }
        return problems.isEmpty
    }
    return problems
}

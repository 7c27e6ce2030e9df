import Foundation
import MeshLab
import Testing

/// The keys `meshctl peers --json` promises in every element (null, never missing, when unknown).
let peerReportKeys = [
    "name", "id", "addresses", "endpoint", "path", "relay", "reason", "lastHandshakeSeconds", "rttMilliseconds", "rxBytes", "txBytes", "state",
]

/// The keys `meshctl status --json` promises at least.
let statusReportKeys = ["name", "network", "interface", "backend", "addresses", "peerCount", "drops"]

func isNumber(_ value: Any?) -> Bool { value is NSNumber }
func isNumberOrNull(_ value: Any?) -> Bool { value is NSNull || isNumber(value) }

/// The host part of `ADDRESS:PORT` or `[ADDRESS]:PORT`.
func endpointHost(_ endpoint: String) -> String {
    if endpoint.hasPrefix("["), let close = endpoint.firstIndex(of: "]") {
        return String(endpoint[endpoint.index(after: endpoint.startIndex)..<close])
    }
    return String(endpoint.prefix { $0 != ":" })
}

/// `100.80.0.2/16` → `100.80.0.2/32`: an interface address as the host prefix peers report.
func hostPrefix(_ interfaceAddress: String) -> String {
    let address = interfaceAddress.prefix { $0 != "/" }
    return "\(address)/\(address.contains(":") ? 128 : 32)"
}

/// What is wrong with `meshctl status --json` of `host`: every promised key, values that match the lab.
func statusProblems(_ status: [String: Any], of host: MeshLabNode, peers: Int, backend: AgentLab.Backend) -> [String] {
    var problems: [String] = []
    func check(_ condition: Bool, _ message: @autoclosure () -> String) { if !condition { problems.append("\(host.name) status: \(message())") } }
    for key in statusReportKeys { check(status[key] != nil, "no key \(key)") }
    check(status["name"] as? String == host.name, "name \(status["name"] ?? "nil")")
    check(status["network"] as? String == "demo", "network \(status["network"] ?? "nil")")
    check(status["interface"] as? String == host.interface, "interface \(status["interface"] ?? "nil"), want \(host.interface)")
    check(status["backend"] as? String == backend.rawValue, "backend \(status["backend"] ?? "nil")")
    check(status["enrollment"] as? String == "enrolled", "enrollment \(status["enrollment"] ?? "nil")")
    let addresses = (status["addresses"] as? [String] ?? []).map { String($0.prefix { $0 != "/" }) }
    check(addresses == host.overlay && addresses.count == 2, "addresses \(status["addresses"] ?? "nil")")
    check(status["peerCount"] as? Int == peers, "peerCount \(status["peerCount"] ?? "nil"), want \(peers)")
    check(status["drops"] is [String: Any], "drops \(status["drops"] ?? "nil")")
    check((status["id"] as? String)?.count == 16, "id \(status["id"] ?? "nil")")
    return problems
}

/// What is wrong with `meshctl peers --json` on `host`, against the topology: one element per other
/// host, with its id, overlay addresses, a real underlay endpoint, a direct path, alive, traffic
/// counted, and every key present. `statuses` are the hosts' own `status --json` (ids, addresses).
func peerProblems(on host: MeshLabNode, in mesh: DemoMesh, statuses: [String: [String: Any]]) throws -> [String] {
    var problems: [String] = []
    let peers = try host.peers()
    let names = peers.compactMap { $0["name"] as? String }
    if names.sorted() != mesh.others(than: host).map(\.name).sorted() { problems.append("\(host.name) lists \(names)") }
    for peer in peers {
        let name = peer["name"] as? String ?? "?"
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { problems.append("\(host.name) → \(name): \(message()) in \(peer)") }
        }
        for key in peerReportKeys { check(peer[key] != nil, "key \(key) missing (must be null when unknown)") }
        guard let other = mesh.nodes.first(where: { $0.name == name }), let otherStatus = statuses[name] else {
            check(false, "not a host of this mesh")
            continue
        }
        let id = peer["id"] as? String ?? ""
        check(id.count == 16 && id.allSatisfy(\.isHexDigit) && id == otherStatus["id"] as? String, "id \(id)")
        let expectedAddresses = (otherStatus["addresses"] as? [String] ?? []).map(hostPrefix)
        check(peer["addresses"] as? [String] == expectedAddresses && expectedAddresses.count == 2, "addresses, want \(expectedAddresses)")
        // The endpoint WireGuard uses: one of the peer's own underlay addresses, or its NAT router's.
        let endpoint = peer["endpoint"] as? String ?? ""
        let allowed = other.underlay + (AgentLab.natRouters[name] ?? [])
        check(allowed.contains(endpointHost(endpoint)), "endpoint \(endpoint) is not one of \(allowed)")
        if name == "charlie" || host.name == "charlie" {
            check(endpoint.hasPrefix("["), "charlie's underlay is IPv6-only, the endpoint must be IPv6")
        }
        if AgentLab.natRouters[name] == nil { check(endpoint.hasSuffix(":51820"), "WireGuard port of \(endpoint)") }
        check(peer["path"] as? String == "direct", "path")
        check(peer["relay"] is NSNull, "relay")
        check(peer["state"] as? String == "alive", "state")
        check(peer["reason"] is NSNull || peer["reason"] is String, "reason")
        check(isNumber(peer["rxBytes"]) && isNumber(peer["txBytes"]), "rx/tx")
        check(((peer["rxBytes"] as? NSNumber)?.uint64Value ?? 0) > 0, "traffic crossed the tunnel, rxBytes must be > 0")
        check(isNumber(peer["lastHandshakeSeconds"]), "pings crossed, so a handshake happened: its age must be a number")
        check(isNumberOrNull(peer["rttMilliseconds"]), "rttMilliseconds")
    }
    return problems
}

/// Reads every host's status, then checks status and peers of every host until both are right
/// (the report reads the device once a second, so it may lag traffic by that much) or `timeout`
/// passes; returns what is still wrong.
func reportProblems(in mesh: DemoMesh, backend: AgentLab.Backend, timeout: Double = 20) throws -> [String] {
    var statuses: [String: [String: Any]] = [:]
    for host in mesh.nodes { statuses[host.name] = try host.status() }
    var problems: [String] = []
    try eventually(timeout: timeout, every: 0.5) {
        problems = []
        for host in mesh.nodes {
            problems += statusProblems(try host.status(), of: host, peers: mesh.nodes.count - 1, backend: backend)
            problems += try peerProblems(on: host, in: mesh, statuses: statuses)
        }
        return problems.isEmpty
    }
    return problems
}

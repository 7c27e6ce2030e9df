import Foundation
import MeshLab

/// Watches the honest hosts of a mesh while a hostile member attacks, and keeps every violation
/// of what must hold (the first time each is seen, with the time into the attack): no meshd
/// restarted or stopped answering, no honest member declared dead by another, and no honest
/// member's WireGuard endpoint (as another honest member has it) moved off that member's own
/// underlay addresses or its NAT router, or onto a relay.
final class HostileMemberWatch {
    let mesh: DemoMesh
    let honest: [MeshLabNode]
    /// meshd's PID on each honest host when the attack started.
    let pids: [String: Int32]
    let started = Date()
    /// Violations by check, in the order first seen (each message once).
    private(set) var violations: [(check: String, detail: String)] = []
    private var seen: Set<String> = []
    /// How many times every honest host was sampled.
    private(set) var samples = 0

    init(mesh: DemoMesh, honest: [MeshLabNode]) {
        self.mesh = mesh
        self.honest = honest
        pids = Dictionary(uniqueKeysWithValues: honest.map { ($0.name, $0.daemon?.processIdentifier ?? -1) })
    }

    func violate(_ check: String, _ detail: String) {
        let key = check + detail
        guard !seen.contains(key) else { return }
        seen.insert(key)
        violations.append((check, String(format: "t+%.1f s: ", Date().timeIntervalSince(started)) + detail))
    }

    /// The endpoint hosts another member may use for `name`: its own underlay or its NAT router's.
    func allowedHosts(for host: MeshLabNode) -> [String] { host.underlay + (AgentLab.natRouters[host.name] ?? []) }

    /// Reads every honest host once (process, status, peers) and records what is wrong.
    func sample() {
        samples += 1
        for host in honest {
            guard let daemon = host.daemon, daemon.isRunning else {
                violate("restart", "meshd on \(host.name) (PID \(pids[host.name] ?? -1)) is not running:\n\(Self.crashSummary(host.log(lastLines: 400)))")
                continue
            }
            if daemon.processIdentifier != pids[host.name] { violate("restart", "meshd on \(host.name) has a new PID") }
            guard (try? host.meshctl(["status", "--json"], timeout: 10))?.succeeded == true else {
                violate("status", "meshctl status on \(host.name) does not answer")
                continue
            }
            guard let peers = try? host.peers() else {
                violate("status", "meshctl peers on \(host.name) does not answer")
                continue
            }
            for other in honest where other !== host {
                guard let peer = peers.first(where: { $0["name"] as? String == other.name }) else {
                    violate("dead", "\(host.name) no longer lists \(other.name)")
                    continue
                }
                let state = peer["state"] as? String ?? "?"
                if state != "alive" && state != "suspect" { violate("dead", "\(host.name) has \(other.name) \(state)") }
                if let endpoint = peer["endpoint"] as? String, !allowedHosts(for: other).contains(endpointHost(endpoint)) {
                    violate("endpoint", "\(host.name) sends \(other.name)'s WireGuard traffic to \(endpoint), not one of \(allowedHosts(for: other))")
                }
                if let relay = peer["relay"] as? String { violate("endpoint", "\(host.name) reaches \(other.name) through relay \(relay)") }
                if peer["path"] as? String == "relay" { violate("endpoint", "\(host.name) → \(other.name) is relayed (this mesh has no relay)") }
            }
        }
    }

    /// The lines of a meshd log that say why it died: from the first fatal error or crash report,
    /// its first frames (the whole backtrace is in the diagnostics).
    static func crashSummary(_ log: String) -> String {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.contains("Fatal error") || $0.contains("crashed") || $0.contains("Crash") }) else {
            return lines.suffix(10).joined(separator: "\n")
        }
        return lines[start...].prefix(14).joined(separator: "\n")
    }

    /// The drop counters of `host` (`status --json` → `drops`), or nil when it does not answer.
    static func drops(of host: MeshLabNode) -> [String: Int]? {
        guard let drops = (try? host.status())?["drops"] as? [String: Any] else { return nil }
        return drops.compactMapValues { ($0 as? NSNumber)?.intValue }
    }
}

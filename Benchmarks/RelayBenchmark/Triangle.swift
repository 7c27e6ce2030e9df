import BenchmarkSupport
import Foundation
import MeshLab

/// Three hosts on one LAN (198.51.100.0/24, 2001:db8:100::/64): alpha creates the network and
/// relays, bravo and charlie are the pair whose direct path is cut.
struct Triangle {
    static let specs: [DemoMesh.HostSpec] = [
        DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1"),
        DemoMesh.HostSpec(name: "bravo", ipv4: "198.51.100.2", ipv6: "2001:db8:100::2"),
        DemoMesh.HostSpec(name: "charlie", ipv4: "198.51.100.3", ipv6: "2001:db8:100::3"),
    ]

    let lab: Lab
    let mesh: DemoMesh
    /// WireGuard public keys (base64) by host name.
    let keys: [String: String]

    /// Builds, enrolls and waits for the full mesh; `binaries` holds meshd and meshctl.
    init(lab: Lab, binaries: String, backend: String) throws {
        self.lab = lab
        let directory = NSTemporaryDirectory() + "meshwork-relaybench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if ProcessInfo.processInfo.environment["MESHWORK_LAB_KEEP_LOGS"] == nil {
            lab.addCleanup { try? FileManager.default.removeItem(atPath: directory) }
        } else {
            progress("state and logs kept in \(directory)")
        }
        mesh = try DemoMesh(lab: lab, binaries: binaries, directory: directory, backend: backend, specs: Self.specs)
        try mesh.enroll()
        try mesh.waitForFullMesh()
        var keys: [String: String] = [:]
        for node in mesh.nodes {
            keys[node.name] = try node.status()["wireGuardPublicKey"] as? String
        }
        self.keys = keys
    }

    /// The peer entry `observer` reports for `peer`.
    func peer(_ peer: String, seenBy observer: String) throws -> [String: Any] {
        guard let entry = try mesh[observer].peers().first(where: { $0["name"] as? String == peer }) else {
            throw LabError.failed("\(observer) does not list \(peer)")
        }
        return entry
    }

    /// Which relay `observer` reports for `peer` (its name), or "— (PATH)" when not relayed.
    func relayedVia(_ peer: String, seenBy observer: String) -> String {
        Self.relayedVia((try? self.peer(peer, seenBy: observer)) ?? [:])
    }

    /// The same, from a `peers --json` entry already read.
    static func relayedVia(_ entry: [String: Any]) -> String {
        entry["path"] as? String == "relay" ? (entry["relay"] as? String ?? "?") : "— (\(entry["path"] as? String ?? "?"))"
    }

    /// Whether `observer` reports `peer` on `path` ("direct" or "relay").
    func reports(_ path: String, peer: String, seenBy observer: String) -> Bool {
        (try? self.peer(peer, seenBy: observer))?["path"] as? String == path
    }

    /// The IP address (no port) of `observer`'s WireGuard endpoint for `peer`, as the device has it.
    func wireGuardEndpoint(of peer: String, seenBy observer: String) -> String? {
        guard let key = keys[peer],
              let output = try? mesh[observer].run(["wg", "show", mesh[observer].interface, "endpoints"], check: false).output
        else { return nil }
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            guard fields.count == 2, fields[0] == key else { continue }
            let endpoint = String(fields[1])
            if endpoint.hasPrefix("["), let close = endpoint.firstIndex(of: "]") {
                return String(endpoint[endpoint.index(after: endpoint.startIndex)..<close])
            }
            return endpoint.split(separator: ":").first.map(String.init)
        }
        return nil
    }

    /// Whether `observer`'s WireGuard sends to `peer` at one of `peer`'s own underlay addresses.
    func sendsDirect(to peer: String, from observer: String) -> Bool {
        guard let address = wireGuardEndpoint(of: peer, seenBy: observer) else { return false }
        return mesh[peer].underlay.contains(address)
    }

    /// Whether `observer`'s WireGuard sends to `peer` through `relay` (one of the relay's addresses).
    func sendsThrough(_ relay: String, to peer: String, from observer: String) -> Bool {
        guard let address = wireGuardEndpoint(of: peer, seenBy: observer) else { return false }
        return mesh[relay].underlay.contains(address)
    }

    /// Drops every packet between `a` and `b`'s underlay addresses, at `a` (input and output).
    /// Returns how long loading the rules took.
    @discardableResult
    func cut(_ a: String, from b: String) throws -> Double {
        var input: [String] = [], output: [String] = []
        for address in mesh[b].underlay {
            let family = address.contains(":") ? "ip6" : "ip"
            input.append("\(family) saddr \(address) drop")
            output.append("\(family) daddr \(address) drop")
        }
        let started = monotonic()
        try lab.nft("""
            table inet relaybench_cut {
              chain input { type filter hook input priority -20; \(input.joined(separator: "; ")); }
              chain output { type filter hook output priority -20; \(output.joined(separator: "; ")); }
            }
            """, in: mesh[a].namespace)
        return monotonic() - started
    }

    /// Makes `a` drop `percent` % of the packets it exchanges with `b` (each way, at random), or
    /// with everyone when `b` is nil (nftables in `a`'s namespace, table `relaybench_loss`).
    func makeLossy(_ a: String, with b: String?, percent: Int) throws {
        var input: [String] = [], output: [String] = []
        let drop = "numgen random mod 100 < \(percent) drop"
        if let b {
            for address in mesh[b].underlay {
                let family = address.contains(":") ? "ip6" : "ip"
                input.append("\(family) saddr \(address) \(drop)")
                output.append("\(family) daddr \(address) \(drop)")
            }
        } else {
            // The underlay only: not loopback, and not the tunnel (an overlay packet dropped there
            // would be lost twice, once clear and once encrypted).
            let spared = "{ \"lo\", \"\(mesh[a].interface)\" }"
            input.append("iifname != \(spared) \(drop)")
            output.append("oifname != \(spared) \(drop)")
        }
        try lab.nft("""
            table inet relaybench_loss {
              chain input { type filter hook input priority -20; \(input.joined(separator: "; ")); }
              chain output { type filter hook output priority -20; \(output.joined(separator: "; ")); }
            }
            """, in: mesh[a].namespace)
    }

    /// Removes ``makeLossy(_:with:percent:)``'s rules from `a`.
    func makeClean(_ a: String) throws {
        try lab.run(["nft", "delete", "table", "inet", "relaybench_loss"], in: mesh[a].namespace)
    }

    /// Removes ``cut(_:from:)``'s rules from `a`.
    func heal(_ a: String) throws {
        try lab.run(["nft", "delete", "table", "inet", "relaybench_cut"], in: mesh[a].namespace)
    }

    /// Polls `condition` every `interval` seconds until it holds; returns the monotonic time at
    /// the end of the first check that succeeded, or nil after `timeout`.
    func waitUntil(timeout: Double, interval: Double = 0.05, _ condition: () -> Bool) -> Double? {
        let deadline = monotonic() + timeout
        repeat {
            if condition() { return monotonic() }
            pause(interval)
        } while monotonic() < deadline
        return nil
    }
}

/// One reply line of `ping -D`.
struct PingReply {
    /// Arrival time (seconds since the epoch).
    var arrival: Double
    var sequence: Int
    /// Round trip in seconds.
    var roundTrip: Double
    /// When its request left (arrival minus round trip).
    var sent: Double { arrival - roundTrip }

    /// The replies in `ping -D -n` output: `[EPOCH] 64 bytes from ADDR: icmp_seq=N ttl=T time=X ms`.
    static func parse(_ output: String) -> [PingReply] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("["), line.contains(" bytes from "), let close = line.firstIndex(of: "]"),
                  let arrival = Double(line[line.index(after: line.startIndex)..<close]),
                  let sequenceRange = line.range(of: "icmp_seq="),
                  let sequence = Int(line[sequenceRange.upperBound...].prefix { $0.isNumber }),
                  let timeRange = line.range(of: "time="),
                  let milliseconds = Double(line[timeRange.upperBound...].prefix { $0.isNumber || $0 == "." })
            else { return nil }
            return PingReply(arrival: arrival, sequence: sequence, roundTrip: milliseconds / 1000)
        }
    }

    /// The longest run of consecutive sequence numbers without a reply between the first and the
    /// last reply whose sequence lies in `range`.
    static func longestMissingRun(_ replies: [PingReply], in range: ClosedRange<Int>) -> Int {
        let seen = Set(replies.map(\.sequence)).filter { range.contains($0) }
        guard let first = seen.min(), let last = seen.max() else { return range.count }
        var longest = 0, current = 0
        for sequence in first...last {
            if seen.contains(sequence) {
                current = 0
            } else {
                current += 1
                longest = max(longest, current)
            }
        }
        return longest
    }
}

/// A continuous `ping -D -i INTERVAL` from one host's namespace to an address.
final class PingRun {
    let process: LabProcess

    init(lab: Lab, from namespace: String, to address: String, interval: Double) throws {
        process = try lab.start(["ping", "-D", "-n", "-i", String(interval), "-W", "2", address], in: namespace)
    }

    /// Replies so far.
    var replies: [PingReply] { PingReply.parse(process.output) }

    /// Stops ping with SIGINT (it prints what it has) and returns every reply.
    func finish() -> [PingReply] {
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        process.wait(timeout: 5)
        return replies
    }
}

import Foundation
import MeshLab
import Testing

/// Shared set-up of the relay scenarios: a lab mesh of the given hosts, enrolled, with helpers.
struct RelayLab {
    static let enabled = ProcessInfo.processInfo.environment["MESHWORK_AGENT_LAB"] != nil
    static let disabledReason: Comment = "relay lab scenarios run in the lab tier (set MESHWORK_AGENT_LAB=userspace, as root)"

    let lab: Lab
    let mesh: DemoMesh

    /// Folder holding the built executables (the test bundle sits beside them).
    static var binaries: String {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent().path
    }

    /// Builds and enrolls `specs`; the first host creates the network (and relays).
    init(_ specs: [DemoMesh.HostSpec], relays: Set<String> = []) throws {
        guard getuid() == 0 else { throw LabError.notRoot }
        let backend = ProcessInfo.processInfo.environment["MESHWORK_AGENT_LAB"] == "kernel" ? "kernel" : "userspace"
        lab = try Lab(prefix: "mwrelay")
        let directory = NSTemporaryDirectory() + "meshwork-relaylab-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // MESHWORK_LAB_KEEP_LOGS=1 keeps the hosts' state and logs for inspection.
        if ProcessInfo.processInfo.environment["MESHWORK_LAB_KEEP_LOGS"] == nil {
            lab.addCleanup { try? FileManager.default.removeItem(atPath: directory) }
        } else {
            print("relay lab state and logs: \(directory)")
        }
        mesh = try DemoMesh(lab: lab, binaries: Self.binaries, directory: directory, backend: backend, specs: specs)
        try mesh.enroll(relays: relays)
        try mesh.waitForFullMesh()
    }

    /// The peer entry `observer` reports for `peer`.
    func peer(_ peer: String, seenBy observer: String) throws -> [String: Any] {
        let peers = try mesh[observer].peers()
        guard let entry = peers.first(where: { $0["name"] as? String == peer }) else {
            throw LabError.failed("\(observer) does not list \(peer): \(peers)")
        }
        return entry
    }

    /// Waits until `observer` reports `peer` on `path` (and via `relay`, when given).
    func waitForPath(_ path: String, relay: String? = nil, peer: String, seenBy observer: String, timeout: Double = 30) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String: Any] = [:]
        repeat {
            last = (try? self.peer(peer, seenBy: observer)) ?? [:]
            if last["path"] as? String == path, relay == nil || last["relay"] as? String == relay { return last }
            usleep(100_000)
        } while Date() < deadline
        throw LabError.failed("\(observer) never reported \(peer) on path \(path)\(relay.map { " via \($0)" } ?? ""); last: \(last)\nlog:\n\(mesh[observer].log(lastLines: 25))")
    }

    /// Drops every packet between two hosts' underlay addresses (in both directions, at the first host).
    func block(_ a: String, _ b: String) throws { try mesh.blockUnderlay(between: a, and: b) }

    /// Removes ``block(_:_:)``'s rules.
    func unblock(_ a: String) throws { try mesh.unblockUnderlay(at: a) }

    /// A continuous ping from one host to another's overlay address; returns the process.
    func startPing(from source: String, to target: String, interval: Double = 0.05) throws -> LabProcess {
        guard let address = mesh[target].overlay.first else { throw LabError.failed("\(target) has no overlay address") }
        return try lab.start(["ping", "-n", "-i", "\(interval)", "-W", "1", address], in: mesh[source].namespace)
    }

    /// Sequence numbers answered, from ping's output.
    static func answeredSequences(_ output: String) -> [Int] {
        output.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "icmp_seq=") else { return nil }
            return Int(line[range.upperBound...].prefix(while: \.isNumber))
        }
    }
}

import Foundation
import MeshLab
import Testing

/// Relay and failover scenarios on real wireguard-go (or kernel WireGuard in the VM), with real
/// packet drops (nftables) and real NAT (nftables masquerade). Assertions are on outcomes:
/// traffic flows, and `meshctl peers` / `status` say how.
@Suite("Relay scenarios", .serialized, .enabled(if: RelayLab.enabled, RelayLab.disabledReason))
struct RelayScenarioTests {
    static let triangle: [DemoMesh.HostSpec] = [
        DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1"),
        DemoMesh.HostSpec(name: "bravo", ipv4: "198.51.100.2", ipv6: "2001:db8:100::2"),
        DemoMesh.HostSpec(name: "charlie", ipv4: "198.51.100.3", ipv6: "2001:db8:100::3"),
    ]

    @Test func blockedFromTheStartGoesThroughTheRelay() throws {
        let setup = try RelayLab(Self.triangle)
        defer { setup.lab.teardown() }
        try setup.block("charlie", "bravo")
        let counts = try setup.lab.ping(setup.mesh["charlie"].overlay[0], from: setup.mesh["bravo"].namespace, count: 30, interval: 0.2, wait: 2)
        #expect(counts.received > 10, "bravo → charlie through the relay: \(counts)")
        let entry = try setup.waitForPath("relay", relay: "alpha", peer: "charlie", seenBy: "bravo")
        #expect((entry["reason"] as? String)?.isEmpty == false)
        _ = try setup.waitForPath("relay", relay: "alpha", peer: "bravo", seenBy: "charlie")
        let relay = try setup.mesh["alpha"].status()["relay"] as? [String: Any]
        #expect((relay?["allocations"] as? Int ?? 0) >= 1)
        #expect((relay?["forwardedPackets"] as? Int ?? 0) > 0)
    }

    @Test func cutMidStreamResumesThroughTheRelayAndComesBack() throws {
        let setup = try RelayLab(Self.triangle)
        defer { setup.lab.teardown() }
        let ping = try setup.startPing(from: "bravo", to: "charlie")
        usleep(3_000_000)
        _ = try setup.waitForPath("direct", peer: "charlie", seenBy: "bravo")
        try setup.block("charlie", "bravo")
        let cutAt = Date()
        _ = try setup.waitForPath("relay", relay: "alpha", peer: "charlie", seenBy: "bravo")
        usleep(2_000_000)
        let answeredBefore = RelayLab.answeredSequences(ping.output).count
        usleep(1_000_000)
        #expect(RelayLab.answeredSequences(ping.output).count > answeredBefore + 10, "traffic resumed through the relay")
        try setup.unblock("charlie")
        _ = try setup.waitForPath("direct", peer: "charlie", seenBy: "bravo", timeout: 60)
        let answered = RelayLab.answeredSequences(ping.output).count
        usleep(1_000_000)
        #expect(RelayLab.answeredSequences(ping.output).count > answered + 10, "traffic flows direct again")
        ping.stop()
        _ = cutAt
    }

    @Test func anotherRelayTakesOverWhenTheRelayDies() throws {
        var specs = Self.triangle
        specs.append(DemoMesh.HostSpec(name: "delta", ipv4: "198.51.100.4", ipv6: "2001:db8:100::4"))
        let setup = try RelayLab(specs, relays: ["delta"])
        defer { setup.lab.teardown() }
        try setup.block("charlie", "bravo")
        let ping = try setup.startPing(from: "bravo", to: "charlie")
        let first = try setup.waitForPath("relay", peer: "charlie", seenBy: "bravo")
        guard let relayName = first["relay"] as? String else { throw LabError.failed("no relay named: \(first)") }
        let survivor = relayName == "alpha" ? "delta" : "alpha"
        setup.mesh[relayName].stopDaemon()
        _ = try setup.waitForPath("relay", relay: survivor, peer: "charlie", seenBy: "bravo")
        let answered = RelayLab.answeredSequences(ping.output).count
        usleep(1_500_000)
        #expect(RelayLab.answeredSequences(ping.output).count > answered + 10, "traffic flows through \(survivor)")
        ping.stop()
    }

    @Test func bothEndsBehindSymmetricNATAreRelayed() throws {
        let specs = [
            DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1"),
            DemoMesh.HostSpec(name: "delta", behindNAT: true, symmetricNAT: true, ipv6BehindNAT: false),
            DemoMesh.HostSpec(name: "echo", behindNAT: true, symmetricNAT: true, ipv6BehindNAT: false),
        ]
        let setup = try RelayLab(specs)
        defer { setup.lab.teardown() }
        let counts = try setup.lab.ping(setup.mesh["echo"].overlay[0], from: setup.mesh["delta"].namespace, count: 60, interval: 0.2, wait: 2)
        #expect(counts.received > 10, "delta → echo: \(counts)\n\(counts.received > 10 ? "" : setup.mesh.diagnostics(logLines: 40))")
        _ = try setup.waitForPath("relay", relay: "alpha", peer: "echo", seenBy: "delta")
    }

    /// Behind endpoint-independent NATs (plain masquerade keeps the source port), both ends learn
    /// each other's outside endpoint from a third member and punch through: direct, no relay.
    @Test func endpointIndependentNATsConnectDirectlyByHolePunching() throws {
        let specs = [
            DemoMesh.HostSpec(name: "alpha", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1"),
            DemoMesh.HostSpec(name: "delta", behindNAT: true, ipv6BehindNAT: false),
            DemoMesh.HostSpec(name: "echo", behindNAT: true, ipv6BehindNAT: false),
        ]
        let setup = try RelayLab(specs)
        defer { setup.lab.teardown() }
        let counts = try setup.lab.ping(setup.mesh["echo"].overlay[0], from: setup.mesh["delta"].namespace, count: 60, interval: 0.2, wait: 2)
        #expect(counts.received > 10, "delta → echo: \(counts)")
        // Once punched, the pair is direct: echo's endpoint as delta sees it is echo's router (the
        // NAT's outside). Echo's inside address may be tried first (its trial is 6 s).
        let deadline = Date().addingTimeInterval(60)
        var entry: [String: Any] = [:]
        repeat {
            entry = try setup.peer("echo", seenBy: "delta")
            if entry["path"] as? String == "direct", (entry["endpoint"] as? String)?.hasPrefix("198.51.100.12:") == true { break }
            usleep(100_000)
        } while Date() < deadline
        print("hole punching: delta → echo \(entry["path"] ?? "?") at \(entry["endpoint"] ?? "?"), \(String(format: "%.1f", 60 - deadline.timeIntervalSinceNow)) s after the pings")
        let echoEndpoints = (try? setup.mesh["echo"].status()["wireGuardEndpoints"]).map { "\($0)" } ?? "?"
        #expect(entry["path"] as? String == "direct", "\(entry)")
        #expect((entry["endpoint"] as? String)?.hasPrefix("198.51.100.12:") == true, "\(entry); echo announces \(echoEndpoints)")
        // Traffic now flows over the punched path, not back through the relay.
        let rxBefore = entry["rxBytes"] as? Int ?? 0
        let again = try setup.lab.ping(setup.mesh["echo"].overlay[0], from: setup.mesh["delta"].namespace, count: 40, interval: 0.1, wait: 2)
        let after = try setup.peer("echo", seenBy: "delta")
        print("hole punching: then \(again.received)/40 answered, path \(after["path"] ?? "?") at \(after["endpoint"] ?? "?")")
        #expect(again.received >= 30, "delta → echo after punching: \(again)")
        #expect(after["path"] as? String == "direct" && (after["endpoint"] as? String)?.hasPrefix("198.51.100.12:") == true, "\(after)")
        #expect((after["rxBytes"] as? Int ?? 0) > rxBefore)
    }

    @Test func nonMembersSendingToARelayPortAreDroppedAndCounted() throws {
        let setup = try RelayLab(Self.triangle)
        defer { setup.lab.teardown() }
        try setup.block("charlie", "bravo")
        _ = try setup.lab.ping(setup.mesh["charlie"].overlay[0], from: setup.mesh["bravo"].namespace, count: 20, interval: 0.2, wait: 2)
        let entry = try setup.waitForPath("relay", relay: "alpha", peer: "charlie", seenBy: "bravo")
        guard let endpoint = entry["endpoint"] as? String, let port = endpoint.split(separator: ":").last else {
            throw LabError.failed("no relay endpoint in \(entry)")
        }
        let before = (try setup.mesh["alpha"].status()["relay"] as? [String: Any])?["dropped"] as? Int ?? 0
        let unauthorizedBefore = (try setup.mesh["alpha"].status()["drops"] as? [String: Any])?["relay-unauthorized"] as? Int ?? 0
        // A stranger on the LAN (not a member) sends to the relay's port.
        let stranger = try setup.lab.addNamespace("stranger")
        let (_, outside) = try setup.lab.connect(stranger, setup.mesh.switchNamespace, addressA: "198.51.100.66/24", nameA: "lan0", nameB: "p-stranger")
        try setup.lab.run(["ip", "link", "set", outside, "master", "br0"], in: setup.mesh.switchNamespace)
        for _ in 0..<20 {
            try setup.lab.run(["bash", "-c", "printf 'not wireguard' > /dev/udp/198.51.100.1/\(port)"], in: stranger, check: false)
        }
        usleep(500_000)
        let after = (try setup.mesh["alpha"].status()["relay"] as? [String: Any])?["dropped"] as? Int ?? 0
        #expect(after >= before + 20, "relay drops: \(before) → \(after)")
        let unauthorizedAfter = (try setup.mesh["alpha"].status()["drops"] as? [String: Any])?["relay-unauthorized"] as? Int ?? 0
        #expect(unauthorizedAfter >= unauthorizedBefore + 20, "drops[relay-unauthorized]: \(unauthorizedBefore) → \(unauthorizedAfter)")
    }
}

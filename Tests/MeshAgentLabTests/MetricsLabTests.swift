import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    /// Issue 14: Debian's Prometheus, with the project's alert rules, scrapes two meshd (bravo, and
    /// alpha the relay) every second; bravo pings charlie, their direct path is cut, bravo goes
    /// through alpha; the documented series are there with values that fit what happened.
    @Test("metrics and ping: Prometheus scrapes meshd after a relay failover (the documented series and alert rules); meshctl ping over the relay, and its reasons")
    func prometheusScrapesAfterARelayFailover() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let rules = repository.appendingPathComponent("configs/prometheus/meshwork-alerts.yml").path
        try withLab(prefix: "mwmt") { lab, directory in
            let checked = try lab.run(["promtool", "check", "rules", rules], check: false)
            #expect(checked.succeeded, "promtool check rules: \(checked.output) \(checked.errorOutput)")
            let listen = ["alpha": "198.51.100.1:9586", "bravo": "127.0.0.1:9586"]
            var specs: [DemoMesh.HostSpec] = []
            for (name, host) in [("alpha", 1), ("bravo", 2), ("charlie", 3)] {
                var spec = DemoMesh.HostSpec(name: name, ipv4: "198.51.100.\(host)", ipv6: "2001:db8:100::\(host)")
                if let address = listen[name] {
                    let file = "\(directory)/\(name).yaml"
                    try "metrics:\n  listen: \"\(address)\"\n".write(toFile: file, atomically: true, encoding: .utf8)
                    spec.daemonArguments = ["--config", file]
                }
                specs.append(spec)
            }
            let mesh = try DemoMesh(lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, specs: specs)
            do {
                try mesh.enroll(prefix: AgentLab.prefix, prefix6: AgentLab.prefix6)
                try mesh.waitForFullMesh(timeout: 90)
                let prometheus = try PrometheusServer(
                    lab: lab, namespace: mesh["bravo"].namespace, directory: directory, targets: ["127.0.0.1:9586", "198.51.100.1:9586"], rules: [rules])
                try prometheus.start()
                try checkFailoverMetrics(mesh, prometheus)
                try checkPing(mesh)
            } catch {
                throw LabError.failed("\(error)\n\(mesh.diagnostics())")
            }
        }
    }

    private func checkFailoverMetrics(_ mesh: DemoMesh, _ prometheus: PrometheusServer) throws {
        let charlie = mesh["charlie"].overlay[0]
        let stream = try PingStream(lab: mesh.lab, target: charlie, from: mesh["bravo"].namespace, interval: 0.1)
        usleep(3_000_000)
        try mesh.blockUnderlay(between: "bravo", and: "charlie")
        let relayed = eventually(timeout: 30, every: 0.5) {
            (try? mesh["bravo"].peers().first { $0["name"] as? String == "charlie" }?["path"] as? String) == "relay"
        }
        #expect(relayed, "bravo → charlie relayed after the cut")
        usleep(3_000_000)  // three scrapes
        _ = try stream.finish(interrupt: true)

        /// The value of `expression` for the instance `instance` (bravo: 127.0.0.1:9586), if any.
        func value(_ expression: String, at instance: String = "127.0.0.1:9586") -> Double? {
            (try? prometheus.query(expression))?.first { $0.labels["instance"] == instance || $0.labels["instance"] == nil }?.value
        }
        let alpha = "198.51.100.1:9586"
        var problems: [String] = []
        func expect(_ expression: String, at instance: String = "127.0.0.1:9586", _ holds: (Double) -> Bool, _ what: String) {
            let found = value(expression, at: instance)
            if !(found.map(holds) ?? false) { problems.append("\(expression) at \(instance) = \(found.map { "\($0)" } ?? "absent"): expected \(what)") }
        }
        expect(#"up{job="meshd"}"#, { $0 == 1 }, "1 (bravo scraped)")
        expect(#"up{job="meshd"}"#, at: alpha, { $0 == 1 }, "1 (alpha scraped)")
        expect(#"meshwork_members{state="alive"}"#, { $0 == 2 }, "2 alive members besides bravo")
        expect(#"meshwork_peers{path="relay"}"#, { $0 == 1 }, "1 relayed peer (charlie)")
        expect(#"meshwork_peers{path="direct"}"#, { $0 == 1 }, "1 direct peer (alpha)")
        expect(#"meshwork_peer_relayed{peer="charlie"}"#, { $0 == 1 }, "charlie relayed")
        expect(#"meshwork_peer_up{peer="charlie"}"#, { $0 == 1 }, "charlie reachable")
        expect(#"meshwork_path_changes_total{to="relay"}"#, { $0 >= 1 }, "at least one change to a relay")
        expect("meshwork_failover_duration_seconds_count", { $0 >= 1 }, "at least one failover recorded")
        expect("meshwork_failover_duration_seconds_sum / meshwork_failover_duration_seconds_count", { $0 > 0 && $0 < 5 }, "a failover of 0–5 s")
        expect(#"meshwork_peer_rtt_seconds{peer="alpha"}"#, { $0 > 0 && $0 < 1 }, "a LAN round trip")
        expect(#"meshwork_peer_receive_bytes_total{peer="charlie"}"#, { $0 > 0 }, "bytes from charlie")
        expect(#"meshwork_peer_last_handshake_age_seconds{peer="charlie"}"#, { $0 >= 0 && $0 < 180 }, "a live session")
        expect(#"meshwork_gossip_datagrams_total{direction="in"}"#, { $0 > 0 }, "gossip received")
        expect(#"meshwork_gossip_bytes_total{direction="out"}"#, { $0 > 0 }, "gossip sent")
        expect("meshwork_certificate_expiry_timestamp_seconds - time()", { $0 > 86400 }, "a certificate valid for more than a day")
        expect("meshwork_wireguard_apply_duration_seconds_count", { $0 >= 1 }, "WireGuard applied")
        expect("meshwork_wireguard_apply_errors_total", { $0 == 0 }, "no apply error")
        expect("meshwork_relay_allocations", at: alpha, { $0 >= 1 }, "alpha relays the pair")
        expect("meshwork_relay_allocations_total", at: alpha, { $0 >= 1 }, "an allocation made")
        expect("meshwork_relay_forwarded_packets_total", at: alpha, { $0 > 0 }, "packets forwarded")
        expect("count(meshwork_drops_total)", { $0 >= 0 }, "drops by reason")
        // The rules are loaded and evaluated on these series: charlie's relayed path makes its
        // alert pending (it fires after an hour), and nothing else is pending or firing.
        let alerts = (try? prometheus.query(#"ALERTS{alertname=~"Meshwork.*"}"#)) ?? []
        let described = alerts.map { "\($0.labels["alertname"] ?? "?") \($0.labels["alertstate"] ?? "?") \($0.labels["peer"] ?? "")" }
        #expect(described == ["MeshworkPeerRelayedForLong pending charlie"], "alerts: \(described)")
        if problems.contains(where: { $0.contains("expiry") }) {
            problems.append("raw: \((try? prometheus.query("meshwork_certificate_expiry_timestamp_seconds")).map { "\($0.map { ($0.labels, $0.value) })" } ?? "?")")
            problems.append("status: \((try? mesh["bravo"].status()["certificateExpiresAt"]).map { "\($0 ?? "nil")" } ?? "?")")
        }
        #expect(problems.isEmpty, "Prometheus saw:\n\(problems.joined(separator: "\n"))\n--- prometheus\n\(prometheus.output)")
    }

    /// `meshctl ping` on the relayed pair, a direct one, a stranger, and a member whose WireGuard
    /// port is blocked while its meshd answers.
    private func checkPing(_ mesh: DemoMesh) throws {
        let bravo = mesh["bravo"], alpha = mesh["alpha"]
        let relayed = try bravo.meshctl(["ping", "charlie", "-c", "2"])
        #expect(relayed.succeeded, "ping charlie (relayed): \(relayed.output) \(relayed.errorOutput)")
        #expect(relayed.output.contains("pong from charlie via relay alpha in "), "\(relayed.output)")
        #expect(relayed.output.contains("no answer from charlie's meshd direct "), "the direct path is cut: \(relayed.output)")
        #expect(relayed.output.contains("note: the direct path does not answer"), "\(relayed.output)")

        let direct = try bravo.meshctl(["ping", "alpha", "-c", "1", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(direct.output.utf8)) as? [String: Any] ?? [:]
        let probes = report["probes"] as? [[String: Any]] ?? []
        #expect(direct.succeeded && report["received"] as? Int == 1 && probes.count == 2, "ping alpha --json: \(direct.output)")
        #expect(probes.contains { ($0["path"] as? String)?.hasPrefix("direct 198.51.100.1:") == true && $0["kind"] as? String == "in-use" },
                "the path in use to alpha is direct: \(direct.output)")

        let stranger = try bravo.meshctl(["ping", "nobody", "-c", "1"])
        #expect(!stranger.succeeded && stranger.errorOutput.contains("nobody is not a member"), "\(stranger.output) \(stranger.errorOutput)")

        // charlie's WireGuard port drops alpha's packets; its meshd still answers alpha.
        try mesh.lab.nft("""
            table inet meshlab_wgblock {
              chain input { type filter hook input priority -30; ip saddr 198.51.100.1 udp dport 51820 drop; }
            }
            """, in: mesh["charlie"].namespace)
        let blocked = try alpha.meshctl(["ping", "charlie", "-c", "2"])
        #expect(!blocked.succeeded, "ping through a blocked WireGuard port: \(blocked.output)")
        #expect(blocked.output.contains("pong from charlie's meshd direct"), "charlie's meshd answers: \(blocked.output)")
        #expect(blocked.output.contains("no answer: WireGuard unanswered while charlie's meshd answers on the underlay"), "\(blocked.output)")
    }
}

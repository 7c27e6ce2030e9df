import Dispatch
import MeshAgent
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14: meshd's Prometheus series, their names and values, the bound on per-peer series,
/// and the HTTP endpoint.
@Suite struct AgentMetricsTests {
    static func snapshot(peers: Int) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.membersByState = ["alive": peers, "dead": 1]
        snapshot.peers = (0..<peers).map {
            (index: Int) -> MetricsSnapshot.Peer in
            let handshake: Double? = index == 0 ? nil : 12.5
            return MetricsSnapshot.Peer(name: "peer\(index)", path: index == 0 ? "relay" : "direct", handshakeAgeSeconds: handshake,
                                        receivedBytes: UInt64(index) * 100, transmittedBytes: index == 0 ? 0 : 50, roundTripSeconds: 0.004)
        }
        snapshot.gossipReceivedDatagrams = 10
        snapshot.gossipSentBytes = 2048
        snapshot.drops = ["replay": 3]
        snapshot.relayAllocations = 2
        snapshot.relayForwardedPackets = 7
        snapshot.routes = [MetricsSnapshot.Route(prefix: "192.168.10.0/24", active: "bravo", gateways: 2)]
        snapshot.certificateExpiry = 1_900_000_000
        return snapshot
    }

    /// The value of the series written exactly as `series` (name and labels), if present.
    static func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func aScrapeShowsTheDocumentedSeries() {
        let metrics = AgentMetrics()
        metrics.pathChanged(to: "relay", failover: .milliseconds(550))
        metrics.wireGuardApplied(in: .milliseconds(3), failed: false)
        metrics.update(Self.snapshot(peers: 3))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(Self.value(text, #"meshwork_members{state="alive"}"#) == 3)
        #expect(Self.value(text, #"meshwork_members{state="dead"}"#) == 1)
        #expect(Self.value(text, #"meshwork_peers{path="relay"}"#) == 1)
        #expect(Self.value(text, #"meshwork_peers{path="direct"}"#) == 2)
        #expect(Self.value(text, #"meshwork_path_changes_total{to="relay"}"#) == 1)
        #expect(Self.value(text, "meshwork_failover_duration_seconds_count") == 1)
        #expect(Self.value(text, #"meshwork_failover_duration_seconds_bucket{le="0.5"}"#) == 0)
        #expect(Self.value(text, #"meshwork_failover_duration_seconds_bucket{le="0.75"}"#) == 1)
        #expect(Self.value(text, "meshwork_wireguard_apply_duration_seconds_count") == 1)
        #expect(Self.value(text, #"meshwork_peer_last_handshake_age_seconds{peer="peer1"}"#) == 12.5)
        #expect(Self.value(text, #"meshwork_peer_receive_bytes_total{peer="peer2"}"#) == 200)
        #expect(Self.value(text, #"meshwork_peer_rtt_seconds{peer="peer1"}"#) == 0.004)
        #expect(Self.value(text, #"meshwork_peer_relayed{peer="peer0"}"#) == 1 && Self.value(text, #"meshwork_peer_up{peer="peer0"}"#) == 1)
        #expect(Self.value(text, #"meshwork_peer_relayed{peer="peer1"}"#) == 0)
        #expect(Self.value(text, #"meshwork_gossip_datagrams_total{direction="in"}"#) == 10)
        #expect(Self.value(text, #"meshwork_gossip_bytes_total{direction="out"}"#) == 2048)
        #expect(Self.value(text, #"meshwork_drops_total{reason="replay"}"#) == 3)
        #expect(Self.value(text, "meshwork_relay_allocations") == 2)
        #expect(Self.value(text, "meshwork_relay_forwarded_packets_total") == 7)
        #expect(Self.value(text, #"meshwork_route_active_gateway{prefix="192.168.10.0/24",gateway="bravo"}"#) == 1)
        #expect(Self.value(text, "meshwork_certificate_expiry_timestamp_seconds") == 1_900_000_000)
    }

    /// Counters follow the totals they mirror (a later scrape adds the difference), and a peer
    /// that leaves takes its series with it.
    @Test func countersFollowTotalsAndGonePeersLoseTheirSeries() {
        let metrics = AgentMetrics()
        var snapshot = Self.snapshot(peers: 3)
        metrics.update(snapshot)
        snapshot.drops["replay"] = 5
        snapshot.peers[2].receivedBytes = 900
        snapshot.peers.remove(at: 1)
        metrics.update(snapshot)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(Self.value(text, #"meshwork_drops_total{reason="replay"}"#) == 5)
        #expect(Self.value(text, #"meshwork_peer_receive_bytes_total{peer="peer2"}"#) == 900)
        #expect(!text.contains(#"peer="peer1""#))
    }

    /// At 10,000 peers only `peerSeriesLimit` have series of their own (peers with traffic first);
    /// the rest are counted.
    @Test func perPeerSeriesAreBounded() {
        let metrics = AgentMetrics(peerSeriesLimit: 100)
        metrics.update(Self.snapshot(peers: 10_000))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let series = text.split(separator: "\n").filter { $0.hasPrefix("meshwork_peer_rtt_seconds{") }
        #expect(series.count == 100)
        #expect(Self.value(text, "meshwork_peers_unlabelled") == 9900)
        #expect(!text.contains(#"peer="peer0""#), "peer0 has no traffic: others first")
    }

    /// The endpoint answers `GET /metrics` with the exposition, and 404 elsewhere.
    @Test func theEndpointServesTheExposition() async throws {
        let server = try await MetricsServer(group: MultiThreadedEventLoopGroup.singleton, host: "127.0.0.1", port: 0) {
            Array("meshwork_up 1\n".utf8)
        }
        let port = try #require(server.localAddress?.port)
        let serving = Task { await server.run() }
        let (body, status) = try await Self.fetch(port: port, path: "/metrics")
        #expect(status.hasPrefix("HTTP/1.1 200") && body == "meshwork_up 1\n")
        let (_, missing) = try await Self.fetch(port: port, path: "/other")
        #expect(missing.hasPrefix("HTTP/1.1 404"))
        serving.cancel()
        await serving.value
        await server.close()
    }

    /// ``get(port:path:)`` on a thread of its own: a blocking read must not hold one of the
    /// cooperative pool's threads, which the server's scrape task needs.
    static func fetch(port: Int, path: String) async throws -> (String, String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try get(port: port, path: path) }) }
        }
    }

    /// One HTTP/1.0 GET of `path` on 127.0.0.1:`port` over a plain socket: (body, status line).
    static func get(port: Int, path: String) throws -> (String, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure(call: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw POSIXFailure(call: "connect") }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)  // generous: other suites may hold the cooperative pool for a while
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { throw POSIXFailure(call: "send") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += chunk[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return ("", text) }
        return (String(text[split.upperBound...]), String(text[..<split.lowerBound]))
    }

    struct POSIXFailure: Error { var call: String }
}

import CoreMetrics
import Prometheus
import Synchronization

/// meshd's Prometheus metrics (issue 14), made with swift-metrics on a registry of the Prometheus
/// client for Swift that belongs to this agent (no process-wide bootstrap: tests run several
/// agents in one process). Events (path changes, failovers, WireGuard applies) are recorded as they
/// happen; the rest is read from the agent at each scrape (``update(_:)``) and rendered by the
/// registry. Names and labels: docs/operations.md, "Metrics".
///
/// Cardinality: every series has a fixed label set except the per-peer ones (`peer`, one per
/// member) and the per-route ones (`prefix`, `gateway`). Per-peer series are kept for at most
/// ``peerSeriesLimit`` peers (those with traffic first, then by name); the rest are counted in
/// `meshwork_peers_unlabelled` and show only in the aggregates. At 10,000 peers that is 6 series
/// × 1,000 peers at most; routes are bounded by what the certificates grant (``routeSeriesLimit``).
public final class AgentMetrics: Sendable {
    /// Most peers with series of their own (`metrics.peer_series`).
    public let peerSeriesLimit: Int
    /// Most routed prefixes with series of their own.
    public static let routeSeriesLimit = 1024
    /// The registry the endpoint renders.
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let state: Mutex<State>

    /// Failover and apply buckets: 50 ms to 30 s (a failover takes about half a second; WireGuard
    /// applies take milliseconds).
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .milliseconds(750), .seconds(1), .milliseconds(1500), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// A counter that follows a total kept elsewhere: each update adds what the total gained (all
    /// of it when the source restarted from zero: a re-created relay or WireGuard peer).
    private struct MirroredCounter {
        let counter: CoreMetrics.Counter
        var last: UInt64 = 0
        mutating func follow(_ total: UInt64) {
            counter.increment(by: total >= last ? total - last : total)
            last = total
        }
    }

    private struct PeerSeries {
        let handshakeAge: CoreMetrics.Meter
        var received: MirroredCounter
        var transmitted: MirroredCounter
        let roundTrip: CoreMetrics.Meter
        let up: CoreMetrics.Meter
        let relayed: CoreMetrics.Meter
    }

    private struct State {
        var meters: [String: CoreMetrics.Meter] = [:]
        var counters: [String: MirroredCounter] = [:]
        var peers: [String: PeerSeries] = [:]
        var lastRenderedSize = 0
    }

    private let pathChanges: [String: CoreMetrics.Counter]
    private let failover: CoreMetrics.Timer
    private let applyDuration: CoreMetrics.Timer
    private let applyErrors: CoreMetrics.Counter

    /// Metrics with per-peer series for at most `peerSeriesLimit` peers.
    public init(peerSeriesLimit: Int = 1000) {
        self.peerSeriesLimit = max(0, peerSeriesLimit)
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.factory = factory
        state = Mutex(State())
        pathChanges = Dictionary(uniqueKeysWithValues: ["direct", "relay", "none"].map {
            ($0, CoreMetrics.Counter(label: "meshwork_path_changes_total", dimensions: [("to", $0)], factory: factory))
        })
        failover = CoreMetrics.Timer(label: "meshwork_failover_duration_seconds", dimensions: [], factory: factory)
        applyDuration = CoreMetrics.Timer(label: "meshwork_wireguard_apply_duration_seconds", dimensions: [], factory: factory)
        applyErrors = CoreMetrics.Counter(label: "meshwork_wireguard_apply_errors_total", dimensions: [], factory: factory)
    }

    // MARK: Events

    /// A peer's path changed to `path` (`direct`, `relay`, `none`); `failover`: how long the
    /// traffic had no working path (from the first unanswered probe to the new path), when it
    /// was a failover.
    public func pathChanged(to path: String, failover: Duration?) {
        pathChanges[path]?.increment()
        if let failover { self.failover.recordNanoseconds(Self.nanoseconds(failover)) }
    }

    /// One apply of a desired state to WireGuard took `duration`; `failed` when it threw.
    public func wireGuardApplied(in duration: Duration, failed: Bool) {
        applyDuration.recordNanoseconds(Self.nanoseconds(duration))
        if failed { applyErrors.increment() }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ attoseconds / 1_000_000_000
    }

    // MARK: Scrapes

    /// Sets every scrape-time series from `snapshot`; per-peer and per-route series of peers and
    /// prefixes no longer there are removed.
    public func update(_ snapshot: MetricsSnapshot) {
        state.withLock { state in
            var seenMeters = Set<String>()
            func key(_ label: String, _ dimensions: [(String, String)]) -> String { label + dimensions.map { "|\($0.0)=\($0.1)" }.joined() }
            func meter(_ label: String, _ dimensions: [(String, String)] = [], _ value: Double) {
                let key = key(label, dimensions)
                seenMeters.insert(key)
                let meter = state.meters[key] ?? CoreMetrics.Meter(label: label, dimensions: dimensions, factory: factory)
                state.meters[key] = meter
                meter.set(value)
            }
            func total(_ label: String, _ dimensions: [(String, String)] = [], _ value: UInt64) {
                let key = key(label, dimensions)
                var entry = state.counters[key] ?? MirroredCounter(counter: CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory))
                entry.follow(value)
                state.counters[key] = entry
            }

            for status in ["alive", "suspect", "dead", "left", "revoked"] {
                meter("meshwork_members", [("state", status)], Double(snapshot.membersByState[status] ?? 0))
            }
            var byPath: [String: Int] = ["direct": 0, "relay": 0, "none": 0]
            for peer in snapshot.peers { byPath[peer.path, default: 0] += 1 }
            for (path, count) in byPath { meter("meshwork_peers", [("path", path)], Double(count)) }

            total("meshwork_gossip_datagrams_total", [("direction", "in")], snapshot.gossipReceivedDatagrams)
            total("meshwork_gossip_datagrams_total", [("direction", "out")], snapshot.gossipSentDatagrams)
            total("meshwork_gossip_bytes_total", [("direction", "in")], snapshot.gossipReceivedBytes)
            total("meshwork_gossip_bytes_total", [("direction", "out")], snapshot.gossipSentBytes)
            for (reason, count) in snapshot.drops { total("meshwork_drops_total", [("reason", reason)], count) }

            if let allocations = snapshot.relayAllocations {
                meter("meshwork_relay_allocations", [], Double(allocations))
                total("meshwork_relay_allocations_total", [], snapshot.relayAllocationsGranted)
                total("meshwork_relay_forwarded_packets_total", [], snapshot.relayForwardedPackets)
                total("meshwork_relay_forwarded_bytes_total", [], snapshot.relayForwardedBytes)
                total("meshwork_relay_dropped_packets_total", [], snapshot.relayDropped)
                total("meshwork_relay_refusals_total", [], snapshot.relayRefusals)
            }

            meter("meshwork_routes", [], Double(snapshot.routes.count))
            meter("meshwork_routes_active", [], Double(snapshot.routes.filter { $0.active != nil }.count))
            for route in snapshot.routes.sorted(by: { $0.prefix < $1.prefix }).prefix(Self.routeSeriesLimit) {
                meter("meshwork_route_gateways", [("prefix", route.prefix)], Double(route.gateways))
                if let active = route.active { meter("meshwork_route_active_gateway", [("prefix", route.prefix), ("gateway", active)], 1) }
            }
            if let expiry = snapshot.certificateExpiry { meter("meshwork_certificate_expiry_timestamp_seconds", [], expiry) }

            // Per-peer series, bounded: peers with traffic first, then by name.
            let ranked = snapshot.peers.sorted {
                let (a, b) = ($0.receivedBytes + $0.transmittedBytes > 0, $1.receivedBytes + $1.transmittedBytes > 0)
                return a != b ? a : $0.name < $1.name
            }
            let labelled = ranked.prefix(peerSeriesLimit)
            meter("meshwork_peers_unlabelled", [], Double(ranked.count - labelled.count))
            var keep = Set<String>()
            for peer in labelled {
                keep.insert(peer.name)
                var series = state.peers[peer.name] ?? PeerSeries(
                    handshakeAge: CoreMetrics.Meter(label: "meshwork_peer_last_handshake_age_seconds", dimensions: [("peer", peer.name)], factory: factory),
                    received: MirroredCounter(counter: CoreMetrics.Counter(label: "meshwork_peer_receive_bytes_total", dimensions: [("peer", peer.name)], factory: factory)),
                    transmitted: MirroredCounter(counter: CoreMetrics.Counter(label: "meshwork_peer_transmit_bytes_total", dimensions: [("peer", peer.name)], factory: factory)),
                    roundTrip: CoreMetrics.Meter(label: "meshwork_peer_rtt_seconds", dimensions: [("peer", peer.name)], factory: factory),
                    up: CoreMetrics.Meter(label: "meshwork_peer_up", dimensions: [("peer", peer.name)], factory: factory),
                    relayed: CoreMetrics.Meter(label: "meshwork_peer_relayed", dimensions: [("peer", peer.name)], factory: factory))
                series.up.set(peer.path == "none" ? 0 : 1)
                series.relayed.set(peer.path == "relay" ? 1 : 0)
                // No handshake yet: NaN (Prometheus' "no value"), not a misleading 0.
                series.handshakeAge.set(peer.handshakeAgeSeconds ?? .nan)
                series.roundTrip.set(peer.roundTripSeconds ?? .nan)
                series.received.follow(peer.receivedBytes)
                series.transmitted.follow(peer.transmittedBytes)
                state.peers[peer.name] = series
            }
            for (name, series) in state.peers where !keep.contains(name) {
                series.handshakeAge.destroy()
                series.received.counter.destroy()
                series.transmitted.counter.destroy()
                series.roundTrip.destroy()
                series.up.destroy()
                series.relayed.destroy()
                state.peers[name] = nil
            }
            for (key, meter) in state.meters where !seenMeters.contains(key) {
                meter.destroy()
                state.meters[key] = nil
            }
        }
    }

    /// The Prometheus text exposition of every series, in a buffer of its own: the registry's
    /// `emitToBuffer()` would keep a second copy of the whole exposition between scrapes (hundreds
    /// of kilobytes at 1,000 peers), counted against meshd's memory budget.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(state.withLock { $0.lastRenderedSize } + 4096)
        registry.emit(into: &buffer)
        state.withLock { $0.lastRenderedSize = buffer.count }
        return buffer
    }
}

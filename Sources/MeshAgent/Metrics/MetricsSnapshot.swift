/// What meshd's metrics show at one scrape, read from the agent's state (``Agent/metricsSnapshot()``)
/// and turned into Prometheus series by ``AgentMetrics``.
public struct MetricsSnapshot: Sendable, Equatable {
    /// One peer's figures (WireGuard's counters and the gossip round trip).
    public struct Peer: Sendable, Equatable {
        public var name: String
        /// `direct`, `relay` or `none` (as `meshctl peers`).
        public var path: String
        public var handshakeAgeSeconds: Double?
        public var receivedBytes: UInt64
        public var transmittedBytes: UInt64
        public var roundTripSeconds: Double?
        public init(name: String, path: String, handshakeAgeSeconds: Double?, receivedBytes: UInt64, transmittedBytes: UInt64, roundTripSeconds: Double?) {
            (self.name, self.path, self.handshakeAgeSeconds) = (name, path, handshakeAgeSeconds)
            (self.receivedBytes, self.transmittedBytes, self.roundTripSeconds) = (receivedBytes, transmittedBytes, roundTripSeconds)
        }
    }

    /// A routed prefix this node knows (`meshctl routes`).
    public struct Route: Sendable, Equatable {
        public var prefix: String
        /// The member carrying it (nil: none).
        public var active: String?
        /// Gateways (or next hops) offering it.
        public var gateways: Int
        public init(prefix: String, active: String?, gateways: Int) { (self.prefix, self.active, self.gateways) = (prefix, active, gateways) }
    }

    /// Members by state (`alive`, `suspect`, `dead`, `left`, `revoked`), this node excluded.
    public var membersByState: [String: Int] = [:]
    /// Every peer (members other than this node that are not gone).
    public var peers: [Peer] = []
    public var gossipReceivedDatagrams: UInt64 = 0
    public var gossipReceivedBytes: UInt64 = 0
    public var gossipSentDatagrams: UInt64 = 0
    public var gossipSentBytes: UInt64 = 0
    /// Refused or dropped input by reason (the reasons of `meshctl status`).
    public var drops: [String: UInt64] = [:]
    /// The relay service, when this node relays.
    public var relayAllocations: Int?
    public var relayAllocationsGranted: UInt64 = 0
    public var relayForwardedPackets: UInt64 = 0
    public var relayForwardedBytes: UInt64 = 0
    public var relayDropped: UInt64 = 0
    /// Pair requests the relay refused.
    public var relayRefusals: UInt64 = 0
    public var routes: [Route] = []
    /// When this node's certificate expires (Unix seconds).
    public var certificateExpiry: Double?

    public init() {}
}

import MeshCore

extension MeshdConfiguration {
    /// The Prometheus endpoint (issue 14): off unless `listen` is set.
    public struct Metrics: Equatable, Sendable {
        /// Where to serve `GET /metrics` (`127.0.0.1:9586`, `[::1]:9586`); nil: no endpoint.
        public var listen: SocketEndpoint?
        /// Most peers with series of their own (the rest only in the aggregates).
        public var peerSeries = 1000
        public init() {}
    }

    /// The `metrics` section: `listen` (ADDRESS:PORT), `peer_series`.
    mutating func readMetrics(_ top: YAMLSection) throws(ConfigurationError) {
        guard let section = try top.section("metrics", knownKeys: ["listen", "peer_series"]) else { return }
        try section.finish()
        if let text = try section.string("listen") {
            guard let endpoint = SocketEndpoint(text) else {
                throw section.error(at: section.value("listen"), key: "listen", "\"\(text)\" is not ADDRESS:PORT (e.g. 127.0.0.1:9586 or [::1]:9586)")
            }
            metrics.listen = endpoint
        }
        if let limit = try section.integer("peer_series", in: 0...100_000) { metrics.peerSeries = limit }
    }
}

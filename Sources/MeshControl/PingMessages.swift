/// `ping`: probe one member (`meshctl ping NAME`).
public struct PingRequest: Codable, Sendable, Equatable {
    /// Which paths `ping` probes.
    public enum Paths: String, Codable, Sendable, CaseIterable {
        /// The path in use (an ICMP echo through WireGuard to the member's overlay address: direct
        /// or through its relay) and the direct path (meshd to meshd on the underlay).
        case both
        /// Only the path in use.
        case inUse = "in-use"
        /// Only the direct path.
        case direct
    }

    /// The member's name.
    public var name: String
    /// Rounds of probes, one a second (1–100; meshd's default when absent: 3).
    public var count: Int?
    /// Paths to probe (meshd's default when absent: both).
    public var path: Paths?

    public init(name: String, count: Int? = nil, path: Paths? = nil) {
        self.name = name
        self.count = count
        self.path = path
    }
}

/// `meshctl ping --json`: every probe's outcome and, when nothing answered, why.
public struct PingReport: Codable, Sendable, Equatable {
    /// One probe.
    public struct Probe: Codable, Sendable, Equatable {
        /// The round (1 …).
        public var round: Int
        /// `in-use` or `direct`.
        public var kind: String
        /// The path in words: `via relay bravo`, `direct 198.51.100.2:51820`.
        public var path: String
        /// Round-trip time in milliseconds; nil: no answer within a second.
        public var rttMilliseconds: Double?

        public init(round: Int, kind: String, path: String, rttMilliseconds: Double?) {
            self.round = round
            self.kind = kind
            self.path = path
            self.rttMilliseconds = rttMilliseconds
        }

        /// The line `meshctl ping` prints for it.
        public func line(member: String) -> String {
            let what = kind == "direct" ? "\(member)'s meshd" : member
            guard let rtt = rttMilliseconds else { return "no answer from \(what) \(path) within 1 s" }
            return "pong from \(what) \(path) in \(rtt < 10 ? "\((rtt * 100).rounded() / 100)" : "\((rtt * 10).rounded() / 10)") ms"
        }
    }

    public var name: String
    /// The member's overlay address the in-use probes went to.
    public var address: String?
    public var probes: [Probe]
    /// Probes answered on the path traffic takes (the in-use probes; the direct ones with
    /// `--path direct`): `meshctl ping` exits 0 only when this is not 0.
    public var received: Int
    /// Why nothing answered (or why a kind of probe could not be sent); nil when all answered.
    public var reason: String?

    public init(name: String, address: String?, probes: [Probe], received: Int, reason: String?) {
        self.name = name
        self.address = address
        self.probes = probes
        self.received = received
        self.reason = reason
    }
}

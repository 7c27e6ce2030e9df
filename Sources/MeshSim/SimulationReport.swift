/// The figures of one simulation run; `meshsim --json` prints exactly this object.
public struct SimulationReport: Codable, Sendable, Equatable {
    /// Seconds until the given share of live nodes held a record change (nil: never reached).
    public struct Convergence: Codable, Sendable, Equatable {
        public var p50: Double?
        public var p99: Double?
        public var p9999: Double?
        public var p100: Double?
    }

    /// Bytes each node sent per second (UDP payload plus 28 bytes of IPv4/UDP header).
    public struct Bandwidth: Codable, Sendable, Equatable {
        /// Mean over nodes of their average rate.
        public var mean: Double
        /// Highest rate of any node in any one-second window.
        public var max: Double
    }

    public var nodes: Int
    public var loss: Double
    public var seed: UInt64
    public var convergenceSeconds: Convergence
    public var bytesPerNodePerSecond: Bandwidth
    /// Healthy nodes that some node declared dead.
    public var falseDead: Int
    /// From the crash of a node to the first node declaring it dead (nil: not detected).
    public var detectionSeconds: Double?
    /// From the crash to every live node holding the verdict (nil: not reached).
    public var deadEverywhereSeconds: Double?
    /// Wall-clock duration of the run.
    public var wallSeconds: Double
    /// Virtual time simulated.
    public var simulatedSeconds: Double
    /// Datagrams sent in total.
    public var datagrams: UInt64
    /// "real" (X25519) or "simulated" key agreement.
    public var keyAgreement: String
    /// One-way latency range of the virtual network, in milliseconds.
    public var latencyMilliseconds: [Double]
}

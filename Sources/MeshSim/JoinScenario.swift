import MeshCore

/// Many members joining at once (issue 11's "1,000 members joining at once"): the bootstrap node
/// (node 0) knows only itself, and every other node starts together knowing only the bootstrap
/// node, as `meshctl join` leaves a new member. Measures, on virtual time, how long until every
/// node sees every other alive. The same seed gives the same run.
public struct JoinScenario: Sendable {
    public var nodes: Int
    public var seed: UInt64
    public var network = NetworkModel()
    /// Longest virtual time to wait for every view to agree.
    public var limit = Interval.seconds(120)
    public var threads = 1
    /// Print the count of nodes still missing someone at every step.
    public var progress = false

    public init(nodes: Int, seed: UInt64) {
        self.nodes = nodes
        self.seed = seed
    }

    public struct Result: Sendable, CustomStringConvertible {
        /// Virtual seconds from the start until every node saw every other alive (nil: not within the limit).
        public var convergedAfter: Double?
        /// Nodes still missing someone at the end.
        public var disagreeing: Int
        /// Datagrams sent in the whole run.
        public var datagrams: UInt64

        public var description: String {
            let converged = convergedAfter.map { String(format: "every node sees every other alive after %.1f s", $0) } ?? "not converged"
            return "\(converged); \(disagreeing) nodes still missing someone; \(datagrams) datagrams"
        }
    }

    public func run() throws -> Result {
        let cluster = try Cluster(count: nodes, seed: seed, threads: threads)
        let simulation = try Simulation(cluster: cluster, network: network, seed: seed, threads: threads)
        for index in 0..<nodes { simulation.crash(index) }
        var bootstrapOnly = MemberTable()
        if let bootstrap = cluster.snapshot[cluster.certificates[0].nodeID] { bootstrapOnly.put(bootstrap) }
        let start = simulation.now
        try simulation.restart(0, members: MemberTable())
        // The authority enrolled them (``MeshNode/admitEnrolled(_:now:)``); only then do they start.
        for certificate in cluster.certificates.dropFirst() { simulation.nodes[0]?.admitEnrolled(certificate, now: simulation.now) }
        let bootstrap = cluster.certificates[0].nodeID
        for index in 1..<nodes { try simulation.join(index, members: bootstrapOnly, synchronizingWith: bootstrap) }
        let step = Interval.milliseconds(250)
        var missing = Self.disagreeing(simulation)
        while missing > 0, simulation.now - start < limit {
            simulation.run(for: step)
            missing = Self.disagreeing(simulation)
            if progress {
                print(String(format: "%6.2f s: %d nodes missing someone; known on average %.1f", (simulation.now - start).seconds, missing, Self.averageKnown(simulation)))
            }
        }
        return Result(convergedAfter: missing == 0 ? (simulation.now - start).seconds : nil, disagreeing: missing, datagrams: simulation.datagramsSent)
    }

    /// Members known alive per running node, on average.
    static func averageKnown(_ simulation: Simulation) -> Double {
        let nodes = simulation.nodes.compactMap { $0 }
        return Double(nodes.map { $0.members.all.filter { $0.status == .alive }.count }.reduce(0, +)) / Double(max(1, nodes.count))
    }

    /// Running nodes whose view of some other running node is not `alive`.
    static func disagreeing(_ simulation: Simulation) -> Int {
        let ids = simulation.cluster.certificates.indices.filter { simulation.isUp($0) }.map { simulation.cluster.certificates[$0].nodeID }
        return simulation.nodes.compactMap { $0 }.filter { node in
            ids.contains { $0 != node.id && node.members[$0]?.status != .alive }
        }.count
    }
}

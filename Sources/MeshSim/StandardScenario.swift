import Foundation
import MeshCore

/// The scenario `meshsim` runs: a converged network warms up, one node changes its record
/// (a new endpoint) and the spread is timed; then another node crashes and its detection is
/// timed. Bandwidth is measured from the end of the warm-up to the end of the run.
public struct StandardScenario: Sendable {
    public var nodes: Int
    public var loss: Double
    public var seed: UInt64
    public var network = NetworkModel()
    public var timing = MeshTiming.default
    public var realCrypto = false
    /// Threads that run the nodes; the figures do not depend on it.
    public var threads = 1
    public var warmup = Interval.seconds(5)
    /// Longest wait for the record change to reach everyone.
    public var convergenceLimit = Interval.seconds(30)
    /// Longest wait for the crash to be known everywhere.
    public var detectionLimit = Interval.seconds(180)

    public init(nodes: Int, loss: Double, seed: UInt64) {
        self.nodes = nodes
        self.loss = loss
        self.seed = seed
        network.loss = loss
    }

    public func run() throws -> SimulationReport {
        let wallStart = Date()
        let cluster = try Cluster(count: nodes, seed: seed, threads: threads)
        let simulation = try Simulation(
            cluster: cluster, network: network, timing: timing, seed: seed, realCrypto: realCrypto, threads: threads)
        let changed = 0
        let crashed = nodes - 1
        var changeVersion = UInt64.max
        var changeAt = Timestamp.distantFuture
        var heardAt: [Timestamp?] = Array(repeating: nil, count: nodes)
        var heardCount = 0
        var crashAt = Timestamp.distantFuture
        var firstDetection: Timestamp?
        var deadKnown = Set<Int>()
        var deadEverywhereAt: Timestamp?
        var falselyDead = Set<NodeID>()
        let changedID = cluster.certificates[changed].nodeID
        let crashedID = cluster.certificates[crashed].nodeID
        let indexByID = Dictionary(uniqueKeysWithValues: cluster.certificates.enumerated().map { ($1.nodeID, $0) })

        simulation.onEvent = { observer, event, time in
            switch event {
            case let .memberUpdated(node, version) where node == changedID && version >= changeVersion:
                if heardAt[observer] == nil {
                    heardAt[observer] = time
                    heardCount += 1
                }
            case let .statusChanged(node, .dead):
                if node == crashedID, time >= crashAt {
                    if firstDetection == nil { firstDetection = time }
                    deadKnown.insert(observer)
                    if deadKnown.count == nodes - 1 { deadEverywhereAt = time }
                } else if let index = indexByID[node], simulation.isUp(index) {
                    falselyDead.insert(node)
                }
            default:
                break
            }
        }

        simulation.run(for: warmup)
        simulation.resetTrafficCounters()
        let measureStart = simulation.now

        // The record change: node 0 announces an extra (advertised) endpoint.
        var announcement = cluster.announcement(of: changed)
        announcement.wireGuardEndpoints.append(AnnouncedEndpoint(.advertised, SocketEndpoint(address: .v4(IPv4Address(0xC633_6407)), port: 51820)))
        changeAt = simulation.now
        simulation.announce(changed, announcement)
        changeVersion = simulation.nodes[changed]?.localRecord.version ?? .max
        let expected = nodes - 1
        let convergenceEnd = changeAt + convergenceLimit
        while heardCount < expected, simulation.now < convergenceEnd {
            simulation.run(for: .milliseconds(50))
        }
        simulation.run(for: .seconds(2))

        // The crash.
        if nodes >= 3 {
            crashAt = simulation.now
            simulation.crash(crashed)
            let detectionEnd = crashAt + detectionLimit
            while deadKnown.count < nodes - 1, simulation.now < detectionEnd {
                simulation.run(for: .milliseconds(250))
            }
            simulation.run(for: .seconds(1))
        }
        let measured = (simulation.now - measureStart).seconds

        let delays = heardAt.enumerated().filter { $0.offset != changed }.map { $0.element.map { ($0 - changeAt).seconds } }
        let bytes = simulation.bytesSent.enumerated().filter { simulation.isUp($0.offset) || $0.offset == crashed }.map { Double($0.element) }
        return SimulationReport(
            nodes: nodes, loss: loss, seed: seed,
            convergenceSeconds: .init(
                p50: Self.percentile(delays, 0.5), p99: Self.percentile(delays, 0.99),
                p9999: Self.percentile(delays, 0.9999), p100: Self.percentile(delays, 1.0)),
            bytesPerNodePerSecond: .init(
                mean: bytes.reduce(0, +) / Double(max(bytes.count, 1)) / max(measured, 1e-9),
                max: Double(simulation.peakBytesPerSecond.max() ?? 0)),
            falseDead: falselyDead.count,
            detectionSeconds: firstDetection.map { ($0 - crashAt).seconds },
            deadEverywhereSeconds: deadEverywhereAt.map { ($0 - crashAt).seconds },
            wallSeconds: Date().timeIntervalSince(wallStart),
            simulatedSeconds: (simulation.now - cluster.start).seconds,
            datagrams: simulation.datagramsSent,
            keyAgreement: realCrypto ? "x25519" : "simulated",
            latencyMilliseconds: [network.latency.seconds * 1000, (network.latency + network.jitter).seconds * 1000])
    }

    /// The time by which a share `p` of the entries had arrived; nil if that many never did.
    static func percentile(_ delays: [Double?], _ p: Double) -> Double? {
        guard !delays.isEmpty else { return nil }
        let needed = max(1, Int((Double(delays.count) * p).rounded(.up)))
        let arrived = delays.compactMap { $0 }.sorted()
        guard arrived.count >= needed else { return nil }
        return arrived[needed - 1]
    }
}

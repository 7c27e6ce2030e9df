import MeshCore
import MeshCrypto
@testable import MeshSim
import Testing

/// Simulator scenarios small enough for `swift test` (virtual time; assertions are on protocol
/// outcomes, never on wall-clock time).
@Suite(.serialized) struct SimulationScenarioTests {
    /// Statuses node `observer` holds for every other node.
    func view(of observer: Int, in simulation: Simulation) -> [NodeID: MemberStatus] {
        guard let node = simulation.nodes[observer] else { return [:] }
        return Dictionary(uniqueKeysWithValues: node.members.all.map { ($0.id, $0.status) })
    }

    /// Indexes of running nodes whose view of some other running node is not `alive`.
    func disagreeing(_ simulation: Simulation) -> [Int] {
        let up = simulation.cluster.certificates.indices.filter { simulation.isUp($0) }
        let upIDs = Set(up.map { simulation.cluster.certificates[$0].nodeID })
        return up.filter { observer in
            let statuses = view(of: observer, in: simulation)
            return upIDs.contains { id in id != simulation.cluster.certificates[observer].nodeID && statuses[id] != .alive }
        }
    }

    @Test func recordChangeReachesEveryNode() throws {
        var scenario = StandardScenario(nodes: 300, loss: 0, seed: 11)
        scenario.detectionLimit = .seconds(60)
        let report = try scenario.run()
        #expect(report.convergenceSeconds.p100 != nil)
        #expect((report.convergenceSeconds.p100 ?? 99) < 2)
        #expect(report.falseDead == 0)
        #expect(report.detectionSeconds != nil)
        #expect(report.deadEverywhereSeconds != nil)
    }

    @Test func fivePercentLossConvergesWithoutFalseDeaths() throws {
        var scenario = StandardScenario(nodes: 200, loss: 0.05, seed: 12)
        scenario.detectionLimit = .seconds(60)
        let report = try scenario.run()
        #expect(report.convergenceSeconds.p100 != nil)
        #expect(report.falseDead == 0)
        #expect(report.detectionSeconds != nil)
    }

    /// With gossip switched off, a member cut off for a moment still refutes the suspicion of
    /// each member whose probe it missed: the accuser tells it directly and it answers directly.
    @Test func aSuspectHearsOfItDirectlyAndRefutesToItsAccuser() throws {
        let count = 40, suspect = 7
        var timing = MeshTiming.default
        timing.retransmitMultiplier = 0  // no gossip at all: only direct messages
        let cluster = try Cluster(count: count, seed: 21)
        let simulation = try Simulation(cluster: cluster, network: NetworkModel(jitter: .milliseconds(5)), timing: timing, seed: 21)
        simulation.run(for: .seconds(5))
        simulation.partition = (0..<count).map { $0 == suspect ? 1 : 0 }
        simulation.run(for: .seconds(3))
        simulation.partition = []
        simulation.run(for: .seconds(40))
        let suspectID = cluster.certificates[suspect].nodeID
        #expect((simulation.nodes[suspect]?.statistics.refutations ?? 0) >= 1, "the cut should have raised a suspicion")
        let notAlive = (0..<count).filter { $0 != suspect && simulation.nodes[$0]?.members[suspectID]?.status != .alive }
        #expect(notAlive.isEmpty, "nodes that do not see the suspect alive: \(notAlive)")
    }

    @Test func sameSeedSameResultOtherSeedOtherRun() throws {
        func run(_ seed: UInt64) throws -> SimulationReport {
            var scenario = StandardScenario(nodes: 60, loss: 0.02, seed: seed)
            scenario.detectionLimit = .seconds(40)
            var report = try scenario.run()
            report.wallSeconds = 0
            return report
        }
        let first = try run(5), second = try run(5), other = try run(6)
        #expect(first == second)
        #expect(first.datagrams != other.datagrams || first.bytesPerNodePerSecond != other.bytesPerNodePerSecond)
    }

    @Test func threadsDoNotChangeTheResult() throws {
        func run(threads: Int) throws -> SimulationReport {
            var scenario = StandardScenario(nodes: 80, loss: 0.03, seed: 7)
            scenario.detectionLimit = .seconds(40)
            scenario.threads = threads
            var report = try scenario.run()
            report.wallSeconds = 0
            return report
        }
        let one = try run(threads: 1)
        #expect(try run(threads: 2) == one)
        #expect(try run(threads: 3) == one)
    }

    @Test func partitionThatHealsConverges() throws {
        let cluster = try Cluster(count: 120, seed: 13)
        let simulation = try Simulation(cluster: cluster, network: NetworkModel(), seed: 13)
        simulation.run(for: .seconds(5))
        simulation.partition = cluster.certificates.indices.map { $0 % 2 }
        simulation.run(for: .seconds(90))
        // Each side has declared the other dead.
        let statuses = view(of: 0, in: simulation)
        #expect(statuses[cluster.certificates[1].nodeID] == .dead)
        #expect(statuses[cluster.certificates[2].nodeID] == .alive)
        simulation.partition = []
        var healed = false
        for _ in 0..<60 {
            simulation.run(for: .seconds(5))
            if disagreeing(simulation).isEmpty {
                healed = true
                break
            }
        }
        #expect(healed, "nodes still disagreeing: \(disagreeing(simulation).count)")
    }

    /// Issue 11's partition heal: six nodes split 3|3 for 40 s (long enough for each side to
    /// declare the other dead); after the heal every node sees every other alive within 5 s
    /// (measured on the lab before: 10.1 s), for every seed of the sweep.
    @Test(arguments: 0..<200) func aSplitOfSixHealsWithinFiveSeconds(seed: Int) throws {
        let cluster = try Cluster(count: 6, seed: UInt64(100 + seed))
        let simulation = try Simulation(cluster: cluster, network: NetworkModel(), seed: UInt64(100 + seed))
        simulation.run(for: .seconds(5))
        simulation.partition = cluster.certificates.indices.map { $0 < 3 ? 0 : 1 }
        simulation.run(for: .seconds(40))
        #expect(view(of: 0, in: simulation)[cluster.certificates[5].nodeID] == .dead, "the split lasted long enough to declare the other side dead")
        simulation.partition = []
        var healedAfter: Double?
        for step in 1...300 {
            simulation.run(for: .milliseconds(100))
            if disagreeing(simulation).isEmpty {
                healedAfter = Double(step) / 10
                break
            }
        }
        print("partition heal, seed \(100 + seed): \(healedAfter.map { "\($0) s" } ?? "not within 30 s")")
        #expect((healedAfter ?? 99) <= 5, "seed \(100 + seed): healed after \(healedAfter.map { "\($0) s" } ?? "more than 30 s")")
    }

    /// Issue 11's "members joining at once" (``JoinScenario``): the bootstrap node knows only
    /// itself and every other member starts knowing only the bootstrap node. Every member comes to
    /// see every other alive within the scenario's limit (120 s of virtual time); the time is
    /// printed. 100 members here (a debug build); `meshsim --join --nodes 1000` runs more.
    @Test func membersJoiningAtOnceConverge() throws {
        let result = try JoinScenario(nodes: 100, seed: 31).run()
        print("100 members joining at once: \(result)")
        #expect(result.convergedAfter != nil, "\(result)")
    }

    @Test func tenPercentChurnSettles() throws {
        let cluster = try Cluster(count: 150, seed: 14)
        let simulation = try Simulation(cluster: cluster, network: NetworkModel(loss: 0.01), seed: 14)
        simulation.run(for: .seconds(5))
        var random = SeededRandomNumberGenerator(seed: 14)
        var down: [(index: Int, table: MemberTable, restartAt: Timestamp)] = []
        for _ in 0..<15 {  // 10% of the nodes crash and come back
            var index = Int.random(in: 1..<150, using: &random)
            while !simulation.isUp(index) { index = Int.random(in: 1..<150, using: &random) }
            if let table = simulation.crash(index) {
                down.append((index, table, simulation.now + .seconds(Double.random(in: 5...40, using: &random))))
            }
            simulation.run(for: .seconds(2))
            for entry in down where entry.restartAt <= simulation.now && !simulation.isUp(entry.index) {
                try simulation.restart(entry.index, members: entry.table)
            }
        }
        while let pending = down.first(where: { !simulation.isUp($0.index) }) {
            simulation.run(until: max(simulation.now, pending.restartAt))
            try simulation.restart(pending.index, members: pending.table)
        }
        var settled = false
        for _ in 0..<40 {
            simulation.run(for: .seconds(5))
            if disagreeing(simulation).isEmpty {
                settled = true
                break
            }
        }
        #expect(settled, "nodes still disagreeing: \(disagreeing(simulation).count)")
    }

    @Test func leaveAndRevocationReachEveryone() throws {
        let cluster = try Cluster(count: 80, seed: 15)
        let simulation = try Simulation(cluster: cluster, network: NetworkModel(), seed: 15)
        simulation.run(for: .seconds(3))
        simulation.leave(7)
        let revoked = cluster.certificates[9]
        let revocation = try Revocation(
            networkID: cluster.settings.networkID, identityKey: revoked.identityKey, name: revoked.name,
            revokedAt: simulation.now.seconds, keepUntil: revoked.notAfter, issuer: cluster.authority)
        simulation.nodes[0]?.addRevocation(revocation, now: simulation.now)
        simulation.run(for: .seconds(5))
        for observer in cluster.certificates.indices where ![7, 9].contains(observer) {
            let statuses = view(of: observer, in: simulation)
            #expect(statuses[cluster.certificates[7].nodeID] == .left, "observer \(observer)")
            #expect(statuses[revoked.nodeID] == .revoked, "observer \(observer)")
        }
    }
}

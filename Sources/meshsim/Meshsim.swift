import ArgumentParser
import Foundation
import MeshCore
import MeshSim

/// The deterministic simulator of Meshwork's protocol core.
@main
struct Meshsim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshsim",
        abstract: "Simulate a Meshwork network on virtual time and measure dissemination, bandwidth and failure detection.",
        discussion: """
            A converged network of N real protocol nodes warms up for 5 s; one node changes its record and the \
            time until 50/99/99.99/100 % of live nodes hold it is measured; then a node crashes and the time until \
            it is declared dead is measured. The same seed gives the same result.
            """)

    @Option(help: "Number of nodes.")
    var nodes: Int = 1000

    @Option(help: "Probability that a datagram is lost (0 to 1).")
    var loss: Double = 0

    @Option(help: "Seed of the virtual world.")
    var seed: UInt64 = 1

    @Option(help: "Smallest one-way latency in milliseconds (with --agents: every link's one-way delay).")
    var latencyMs: Double = 10

    @Option(help: "Jitter added to the latency, uniform, in milliseconds.")
    var jitterMs: Double = 30

    @Option(help: "Key agreement: simulated (fast stand-in, default) or real (X25519).")
    var crypto: String = "simulated"

    @Option(help: "Threads to run the nodes on; the figures are the same for any number. Default: the processors not busy with other work (from the load average).")
    var threads: Int?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Instead, run whole agents (paths, relays, WireGuard) in a scenario: \(AgentScenario.allCases.map(\.rawValue).joined(separator: ", ")) or all; with --seed, or --seeds N for seeds 1 to N.")
    var agents: String?

    @Option(help: "With --agents: sweep seeds 1 to N and check the invariants (exit status 1 if one breaks).")
    var seeds: UInt64?

    @Flag(help: "With --agents and one seed: print every WireGuard datagram delivered.")
    var traceWireguard = false

    @Flag(help: "Instead, every node but node 0 joins at once knowing only node 0 (as `meshctl join` leaves a member); prints how long until every node sees every other alive.")
    var join = false

    @Option(help: "Instead of the scenario, run this many seconds (node 0 changes its record at 3 s, the last node crashes at 6 s) and print traffic per second and per message type.")
    var trace: Int?

    func validate() throws {
        guard nodes >= 2 else { throw ValidationError("--nodes must be at least 2") }
        guard (0..<1).contains(loss) else { throw ValidationError("--loss must be at least 0 and below 1") }
        guard ["simulated", "real"].contains(crypto) else { throw ValidationError("--crypto must be simulated or real") }
        guard (threads ?? 1) >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let agents, agents != "all", AgentScenario(rawValue: agents) == nil {
            throw ValidationError("--agents must be one of \(AgentScenario.allCases.map(\.rawValue).joined(separator: ", ")) or all")
        }
        if (seeds ?? 1) < 1 { throw ValidationError("--seeds must be at least 1") }
    }

    func run() throws {
        if let agents {
            try runAgents(agents == "all" ? AgentScenario.allCases : AgentScenario(rawValue: agents).map { [$0] } ?? [])
            return
        }
        if let trace {
            try runTrace(seconds: trace)
            return
        }
        if join {
            var scenario = JoinScenario(nodes: nodes, seed: seed)
            scenario.network = NetworkModel(latency: .milliseconds(latencyMs), jitter: .milliseconds(jitterMs), loss: loss)
            scenario.threads = threadCount
            scenario.progress = ProcessInfo.processInfo.environment["MESHSIM_PROGRESS"] != nil
            let result = try scenario.run()
            print("\(nodes) members joining at once, seed \(seed): \(result)")
            fflush(nil)
            Foundation.exit(result.convergedAfter == nil ? 1 : 0)
        }
        var scenario = StandardScenario(nodes: nodes, loss: loss, seed: seed)
        scenario.network.latency = .milliseconds(latencyMs)
        scenario.network.jitter = .milliseconds(jitterMs)
        scenario.realCrypto = crypto == "real"
        scenario.threads = threadCount
        let report = try scenario.run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.table(report))
        }
        // Tearing down 10,000 nodes one object at a time takes seconds and proves nothing.
        fflush(nil)
        Foundation.exit(0)
    }

    /// Whole agents: one seed (optionally traced), or a sweep of seeds checked against the invariants.
    func runAgents(_ scenarios: [AgentScenario]) throws {
        var broken = 0
        for scenario in scenarios {
            if let seeds {
                let results = try scenario.sweep(seeds: 1...seeds, threads: threadCount, latency: .milliseconds(latencyMs))
                for result in results {
                    if let violation = scenario.violation(of: result) {
                        broken += 1
                        print("BROKEN \(scenario.rawValue) seed \(result.seed): \(violation) — \(result)")
                    }
                }
                print(scenario.summary(of: results))
            } else {
                let trace: ((Interval, String) -> Void)? = traceWireguard ? { time, line in print(String(format: "%9.4f ", time.seconds) + line) } : nil
                let result = try scenario.run(seed: seed, latency: .milliseconds(latencyMs), trace: trace)
                print(result)
                for line in result.routeLog { print("  " + line) }
                if let violation = scenario.violation(of: result) {
                    broken += 1
                    print("BROKEN: \(violation)")
                }
            }
        }
        fflush(nil)
        Foundation.exit(broken == 0 ? 0 : 1)
    }

    /// A diagnostic run: datagrams per virtual second, then messages by type and drops, summed over nodes.
    func runTrace(seconds: Int) throws {
        let cluster = try Cluster(count: nodes, seed: seed, threads: threadCount)
        let network = NetworkModel(latency: .milliseconds(latencyMs), jitter: .milliseconds(jitterMs), loss: loss)
        let simulation = try Simulation(cluster: cluster, network: network, seed: seed, realCrypto: crypto == "real", threads: threadCount)
        func messageTotals() -> [UInt64] {
            simulation.nodes.compactMap { $0?.statistics.messagesSent }.reduce(into: [UInt64](repeating: 0, count: 64)) { sum, counts in
                for index in counts.indices { sum[index] += counts[index] }
            }
        }
        var previous = messageTotals()
        for second in 0..<seconds {
            if second == 3 {
                var announcement = cluster.announcement(of: 0)
                announcement.offersRelay = true
                simulation.announce(0, announcement)
            }
            if second == 6 { simulation.crash(nodes - 1) }
            let before = simulation.datagramsSent
            simulation.run(for: .seconds(1))
            let totals = messageTotals()
            let mix = totals.indices.filter { totals[$0] > previous[$0] }.map { code in
                "\(MessageCode(rawValue: UInt8(code)).map { "\($0)" } ?? "ext\(code)")=\(totals[code] - previous[code])"
            }
            previous = totals
            print("t=\(second + 1)s datagrams \(simulation.datagramsSent - before) \(mix.joined(separator: " "))")
        }
        var messages = [UInt64](repeating: 0, count: 64)
        var drops: [DropReason: UInt64] = [:]
        for node in simulation.nodes.compactMap({ $0 }) {
            for (code, count) in node.statistics.messagesSent.enumerated() { messages[code] += count }
            for (reason, count) in node.drops.counts { drops[reason, default: 0] += count }
        }
        for (code, count) in messages.enumerated() where count > 0 {
            let name = MessageCode(rawValue: UInt8(code)).map { "\($0)" } ?? "extension-\(code)"
            print("message \(name): \(count)")
        }
        for (reason, count) in drops.sorted(by: { $0.key < $1.key }) { print("drop \(reason.rawValue): \(count)") }
        let statistics = simulation.nodes.compactMap { $0?.statistics }
        print("probes \(statistics.map(\.probesSent).reduce(0, +)) failed \(statistics.map(\.probesFailed).reduce(0, +))",
              "suspicions \(statistics.map(\.suspicionsRaised).reduce(0, +)) refutations \(statistics.map(\.refutations).reduce(0, +))",
              "deaths \(statistics.map(\.deathsDeclared).reduce(0, +))")
    }

    /// The threads to use: as asked, else the processors that the load average says are idle
    /// (on a busy machine a second thread waits for the first more than it helps).
    var threadCount: Int {
        if let threads { return threads }
        let processors = ProcessInfo.processInfo.activeProcessorCount
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let load = text.split(separator: " ").first.flatMap({ Double($0) })
        else { return 1 }
        return max(1, min(processors, processors - Int(load.rounded())))
    }

    static func table(_ report: SimulationReport) -> String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.3f s", $0) } ?? "not reached" }
        let c = report.convergenceSeconds
        return """
            nodes                 \(report.nodes)   loss \(report.loss)   seed \(report.seed)   key agreement \(report.keyAgreement)
            convergence           p50 \(seconds(c.p50))   p99 \(seconds(c.p99))   p99.99 \(seconds(c.p9999))   p100 \(seconds(c.p100))
            bandwidth per node    mean \(String(format: "%.0f", report.bytesPerNodePerSecond.mean)) B/s (\(String(format: "%.1f", report.bytesPerNodePerSecond.mean * 8 / 1000)) kbit/s)   peak \(String(format: "%.0f", report.bytesPerNodePerSecond.max)) B/s (\(String(format: "%.1f", report.bytesPerNodePerSecond.max * 8 / 1000)) kbit/s)
            false dead verdicts   \(report.falseDead)
            crash detection       first \(seconds(report.detectionSeconds))   everywhere \(seconds(report.deadEverywhereSeconds))
            run                   \(String(format: "%.1f", report.simulatedSeconds)) s simulated, \(report.datagrams) datagrams, \(String(format: "%.1f", report.wallSeconds)) s wall
            """
    }
}

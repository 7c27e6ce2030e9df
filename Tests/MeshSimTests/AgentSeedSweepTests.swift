import Foundation
import MeshCore
import MeshSim
import Testing

/// Whole agents in the simulator, hundreds of seeds per scenario, against the invariants of
/// ``AgentScenario/violation(of:)``. A failure names the seed to replay:
/// `swift run meshsim --agents SCENARIO --seed N --trace-wireguard`.
@Suite struct AgentSeedSweepTests {
    /// Seeds per scenario (MESHWORK_AGENT_SEEDS overrides).
    static let seeds = UInt64(ProcessInfo.processInfo.environment["MESHWORK_AGENT_SEEDS"] ?? "") ?? 200

    @Test(arguments: AgentScenario.allCases) func seedSweep(_ scenario: AgentScenario) throws {
        let results = try scenario.sweep(seeds: 1...Self.seeds, threads: max(1, ProcessInfo.processInfo.activeProcessorCount))
        let gaps = results.map(\.longestGap.seconds).sorted()
        let firsts = results.compactMap { $0.firstReply?.seconds }.sorted()
        func quantile(_ values: [Double], _ q: Double) -> String {
            values.isEmpty ? "-" : String(format: "%.3f", values[min(values.count - 1, Int(Double(values.count) * q))])
        }
        print("\(scenario.rawValue), \(results.count) seeds: first reply median \(quantile(firsts, 0.5)) s, p95 \(quantile(firsts, 0.95)) s, "
            + "max \(quantile(firsts, 1)) s; longest gap median \(quantile(gaps, 0.5)) s, max \(quantile(gaps, 1)) s; "
            + "route changes per end at most \(results.compactMap { $0.routeChanges.max() }.max() ?? 0), seeds with route changes beyond the faults' "
            + "\(results.filter { ($0.routeChanges.max() ?? 0) > min(scenario.allowedRouteChanges, scenario == .lossy ? 0 : .max) }.count)")
        for result in results {
            if let violation = scenario.violation(of: result) {
                Issue.record("\(scenario.rawValue) seed \(result.seed): \(violation) — \(result); replay: swift run meshsim --agents \(scenario.rawValue) --seed \(result.seed) --trace-wireguard")
            }
        }
    }
}

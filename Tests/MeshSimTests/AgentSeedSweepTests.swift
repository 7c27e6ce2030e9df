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
        print(scenario.summary(of: results))
        for result in results {
            if let violation = scenario.violation(of: result) {
                Issue.record("\(scenario.rawValue) seed \(result.seed): \(violation) — \(result); replay: swift run meshsim --agents \(scenario.rawValue) --seed \(result.seed) --trace-wireguard")
            }
        }
    }
}

// Agent benchmarks (issue 5, point 6). Needs root; builds labs in network namespaces (userspace
// WireGuard: wireguard-go).
//
//   swift build -c release --product AgentBenchmark      # also builds meshd and meshctl beside it
//   .build/release/AgentBenchmark join      [--trials 10] [--backend userspace]
//   .build/release/AgentBenchmark roaming   [--trials 10] [--settle 3]
//   .build/release/AgentBenchmark restart   [--trials 10] [--down 1] [--settle 2]
//   .build/release/AgentBenchmark gateways  [--trials 10] [--settle 5] [--hold 8] [--setups meshwork,keepalived]
//   .build/release/AgentBenchmark daemon-routes [--trials 10] [--settle 2]
//   .build/release/AgentBenchmark resources [--peers 5|1000] [--windows 10] [--window 30] [--settle 60] [--swarm-probe-interval 1] [--swarm-stage 1000] [--swarm-stage-pause 10] [--swarm-topology star|full] [--converge-timeout 300] [--swarm-cpu 0] [--metrics-scrape 1]
//
// Each prints Markdown tables (progress on standard error); see docs/benchmarks.md, "Agent (meshd and meshctl)".
// The helper the 1,000-peer resources benchmark starts inside a namespace: `swarm` (see Swarm.swift).
import BenchmarkSupport
import Foundation
import MeshLab

let holder = LabHolder()
let arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.first ?? "help"

let (executable, binaries) = executableDirectory()

if command != "swarm" { holder.tearDownOnSignals() }

do {
    let given = try options(arguments.dropFirst())
    switch command {
    case "join", "roaming", "restart", "resources", "gateways", "daemon-routes":
        for product in ["meshd", "meshctl"] where !FileManager.default.isExecutableFile(atPath: binaries + "/" + product) {
            throw LabError.failed("\(binaries)/\(product) is missing: swift build -c release --product \(product)")
        }
        let lab = try Lab(prefix: "mwabench")
        holder.set(lab)
        defer { lab.teardown() }
        let backend = given["--backend"] ?? "userspace"
        let trials = Int(given["--trials"] ?? "") ?? 10
        switch command {
        case "gateways":
            var benchmark = GatewayFailoverBenchmark()
            benchmark.trials = trials
            benchmark.settle = Double(given["--settle"] ?? "") ?? benchmark.settle
            benchmark.hold = Double(given["--hold"] ?? "") ?? benchmark.hold
            var runs: [(name: String, trials: [GatewayFailoverBenchmark.Trial])] = []
            for setup in (given["--setups"] ?? "meshwork,keepalived").split(separator: ",") {
                let site: any GatewayFailoverBenchmark.Site
                switch setup {
                case "meshwork":
                    progress("building the S0 mesh (\(backend))")
                    site = try MeshworkSite(lab: lab, binaries: binaries, backend: backend)
                case "keepalived":
                    progress("building the hand-built keepalived + WireGuard pair")
                    site = try KeepalivedSite(lab: lab)
                default:
                    throw LabError.failed("--setups: \(setup) is not meshwork or keepalived")
                }
                runs.append((site.name, try benchmark.run(site)))
            }
            benchmark.report(runs)
        case "daemon-routes":
            var benchmark = DaemonRoutesBenchmark()
            benchmark.trials = trials
            benchmark.settle = Double(given["--settle"] ?? "") ?? benchmark.settle
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "join":
            var benchmark = JoinBenchmark()
            benchmark.trials = trials
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "roaming":
            var benchmark = RoamingBenchmark()
            benchmark.trials = trials
            benchmark.settle = Double(given["--settle"] ?? "") ?? benchmark.settle
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "restart":
            var benchmark = RestartBenchmark()
            benchmark.trials = trials
            benchmark.down = Double(given["--down"] ?? "") ?? benchmark.down
            benchmark.settle = Double(given["--settle"] ?? "") ?? benchmark.settle
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        default:
            var benchmark = ResourcesBenchmark()
            benchmark.peers = Int(given["--peers"] ?? "") ?? benchmark.peers
            benchmark.windows = Int(given["--windows"] ?? "") ?? benchmark.windows
            benchmark.window = Double(given["--window"] ?? "") ?? benchmark.window
            benchmark.settle = Double(given["--settle"] ?? "") ?? benchmark.settle
            benchmark.swarmProbeInterval = given["--swarm-probe-interval"].flatMap(Double.init)
            benchmark.swarmStage = given["--swarm-stage"].flatMap { Int($0) }
            benchmark.swarmStagePause = given["--swarm-stage-pause"].flatMap(Double.init)
            benchmark.swarmTopology = given["--swarm-topology"] ?? benchmark.swarmTopology
            benchmark.convergeTimeout = Double(given["--converge-timeout"] ?? "") ?? benchmark.convergeTimeout
            benchmark.metricsScrapeInterval = given["--metrics-scrape"].flatMap { Int($0) }
            benchmark.swarmCPU = given["--swarm-cpu"].flatMap { $0 == "none" ? nil : Int($0) } ?? benchmark.swarmCPU
            try benchmark.run(lab: lab, binaries: binaries, backend: backend, executable: executable)
        }
    case "swarm":
        try Swarm.run(given)
    default:
        print("usage: AgentBenchmark join|roaming|restart|gateways|daemon-routes|resources [--option value ...] (see the top of Benchmarks/AgentBenchmark/main.swift)")
        exit(command == "help" ? 0 : 2)
    }
} catch {
    FileHandle.standardError.write(Data("AgentBenchmark: \(error)\n".utf8))
    holder.teardown()
    exit(1)
}

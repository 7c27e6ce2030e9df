// Relay and failover benchmarks (issue 6, point 8). Needs root; builds labs in network namespaces.
//
//   swift build -c release --product RelayBenchmark      # also builds meshd and meshctl beside it
//   .build/release/RelayBenchmark failover   [--trials 10] [--hold 5] [--warmup 3] [--settle 62] [--backend userspace]
//   .build/release/RelayBenchmark start      [--trials 10] [--backend userspace]
//   .build/release/RelayBenchmark quiet      [--trials 3] [--seconds 20] [--backend userspace]
//   .build/release/RelayBenchmark lossy      [--trials 3] [--seconds 60] [--loss 50] [--links direct|all] [--backend userspace]
//   .build/release/RelayBenchmark throughput [--trials 10] [--seconds 5] [--omit 1] [--backend userspace]
//   .build/release/RelayBenchmark forward    [--trials 10] [--sizes 64,1400] [--window 2] [--relay-cpu 1] [--sender-cpu 0] [--rps yes|no]
//
// Each prints Markdown tables (progress on standard error); see docs/benchmarks.md, "Relay and failover".
// Helpers the forward benchmark starts inside its namespaces: `blast`, `latch`, `relay-node`.
import BenchmarkSupport
import Foundation
import MeshLab

let holder = LabHolder()
let arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.first ?? "help"

func cpu(_ text: String?, default value: Int?) -> Int? {
    guard let text else { return value }
    return text == "none" ? nil : Int(text)
}

let (executable, binaries) = executableDirectory()

holder.tearDownOnSignals()

do {
    let given = try options(arguments.dropFirst())
    switch command {
    case "failover", "start", "quiet", "lossy", "throughput", "forward":
        let lab = try Lab(prefix: "mwrbench")
        holder.set(lab)
        defer { lab.teardown() }
        let backend = given["--backend"] ?? "userspace"
        let trials = Int(given["--trials"] ?? "") ?? 10
        switch command {
        case "failover":
            var benchmark = FailoverBenchmark()
            benchmark.trials = trials
            benchmark.hold = Double(given["--hold"] ?? "") ?? benchmark.hold
            benchmark.warmup = Double(given["--warmup"] ?? "") ?? benchmark.warmup
            benchmark.settle = Double(given["--settle"] ?? "") ?? benchmark.settle
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "start":
            var benchmark = RelayedStartBenchmark()
            benchmark.trials = trials
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "quiet":
            var benchmark = QuietPathBenchmark()
            benchmark.trials = Int(given["--trials"] ?? "") ?? 3
            benchmark.seconds = Double(given["--seconds"] ?? "") ?? benchmark.seconds
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "lossy":
            var benchmark = LossyPathBenchmark()
            benchmark.trials = Int(given["--trials"] ?? "") ?? 3
            benchmark.seconds = Double(given["--seconds"] ?? "") ?? benchmark.seconds
            benchmark.percent = Int(given["--loss"] ?? "") ?? benchmark.percent
            benchmark.links = given["--links"] ?? benchmark.links
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        case "throughput":
            var benchmark = ThroughputBenchmark()
            benchmark.trials = trials
            benchmark.seconds = Int(given["--seconds"] ?? "") ?? benchmark.seconds
            benchmark.omit = Int(given["--omit"] ?? "") ?? benchmark.omit
            try benchmark.run(lab: lab, binaries: binaries, backend: backend)
        default:
            var benchmark = ForwardingBenchmark()
            benchmark.trials = trials
            benchmark.sizes = given["--sizes"].map { $0.split(separator: ",").compactMap { Int($0) } } ?? benchmark.sizes
            benchmark.window = Double(given["--window"] ?? "") ?? benchmark.window
            benchmark.relayCPU = cpu(given["--relay-cpu"], default: benchmark.relayCPU)
            benchmark.senderCPU = cpu(given["--sender-cpu"], default: benchmark.senderCPU)
            benchmark.steerReceive = given["--rps"].map { $0 != "no" } ?? benchmark.steerReceive
            try benchmark.run(lab: lab, executable: executable)
        }
    case "blast": try Tools.blast(given)
    case "latch": try Tools.latch(given)
    case "relay-node": try await Tools.relayNode(given)
    default:
        print("usage: RelayBenchmark failover|throughput|forward [--option value ...] (see the top of Benchmarks/RelayBenchmark/main.swift)")
        exit(command == "help" ? 0 : 2)
    }
} catch {
    FileHandle.standardError.write(Data("RelayBenchmark: \(error)\n".utf8))
    holder.teardown()
    exit(1)
}

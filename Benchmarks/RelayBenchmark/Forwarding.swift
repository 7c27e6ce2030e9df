import BenchmarkSupport
import Foundation
import MeshLab

/// Benchmark 4: the raw forwarding rate of `RelayService` against the kernel forwarding the
/// same traffic.
///
/// ```
///  snd  eth0 203.0.113.1/30 ── in0 203.0.113.2/30   rly   out0 203.0.113.5/30 ── eth0 203.0.113.6/30  rcv
///  blaster (CPU 0)              relay (CPU 1, RPS of in0 → CPU 1)                    ingress drop (counted)
/// ```
///
/// - kernel: the blaster sends to 203.0.113.6:9000; rly routes it (ip_forward).
/// - relay: a `RelayService` in rly has one allocation for the pair (203.0.113.1, 203.0.113.6);
///   rcv first sends one datagram from port 9000 to its relay port (latching), then the blaster
///   sends to its own relay port and the relay forwards to 203.0.113.6:9000.
///
/// In both modes rcv drops the datagrams at ingress (nftables netdev hook), so no receiving
/// process competes for the CPUs. The rate is what leaves rly towards rcv (out0's transmit
/// counter) over a window in the middle of each blast.
struct ForwardingBenchmark {
    var trials = 10
    var sizes = [64, 1400]
    var window = 2.0
    /// CPU for the relay's work (RPS of rly's ingress and the relay process); nil: no pinning.
    var relayCPU: Int? = 1
    var senderCPU: Int? = 0
    /// Whether rly's receive processing is steered to `relayCPU` (RPS); otherwise the sender's
    /// CPU does it (veth delivers on the transmitting CPU).
    var steerReceive = true

    struct Counters {
        var offered = 0, arrived = 0, forwarded = 0, received = 0, socketDrops = 0
        var time = 0.0
    }

    struct Sample {
        var offered: Double, forwarded: Double, received: Double, socketDrops: Double
        var relayProcessCPU: Double
        var cpuBusy: [Double]
    }

    func run(lab: Lab, executable: String) throws {
        let snd = try lab.addNamespace("snd"), rly = try lab.addNamespace("rly"), rcv = try lab.addNamespace("rcv")
        try lab.connect(snd, rly, addressA: "203.0.113.1/30", addressB: "203.0.113.2/30", nameA: "eth0", nameB: "in0")
        try lab.connect(rly, rcv, addressA: "203.0.113.5/30", addressB: "203.0.113.6/30", nameA: "out0", nameB: "eth0")
        try lab.run(["ip", "route", "add", "default", "via", "203.0.113.2"], in: snd)
        try lab.run(["ip", "route", "add", "default", "via", "203.0.113.5"], in: rcv)
        try lab.enableForwarding(in: rly)
        if let relayCPU, steerReceive {
            try lab.run(["sh", "-c", "echo \(String(1 << relayCPU, radix: 16)) > /sys/class/net/in0/queues/rx-0/rps_cpus"], in: rly)
        }
        try lab.nft("""
            table netdev relaybench {
              chain ingress { type filter hook ingress device "eth0" priority 0; udp dport 9000 counter drop; }
            }
            """, in: rcv)
        // Neighbours resolved before the first trial.
        _ = try lab.ping("203.0.113.6", from: snd, count: 2, interval: 0.2, wait: 1)

        let relay = try lab.start(pinned(relayCPU) + [executable, "relay-node", "--sender", "203.0.113.1", "--receiver", "203.0.113.6"], in: rly)
        guard let ports = waitForPorts(relay) else { throw LabError.failed("relay-node did not start: \(relay.output)") }
        try lab.run([executable, "latch", "--port", "9000", "--to", "203.0.113.2:\(ports.receiver)"], in: rcv)
        progress("relay ports: sender \(ports.sender), receiver \(ports.receiver)")

        var results: [String: [Sample]] = [:]
        for size in sizes {
            for trial in 1...trials {
                for mode in ["kernel", "relay"] {
                    let target = mode == "kernel" ? "203.0.113.6:9000" : "203.0.113.2:\(ports.sender)"
                    let sample = try measure(lab: lab, executable: executable, namespaces: (snd, rly, rcv), target: target, size: size, relayPID: relay.processIdentifier)
                    results["\(mode)-\(size)", default: []].append(sample)
                    progress(String(format: "%@ %d B trial %d: offered %.0f pps, forwarded %.0f pps, received %.0f pps, relay socket drops %.0f/s, relay process %.2f cores",
                                    mode, size, trial, sample.offered, sample.forwarded, sample.received, sample.socketDrops, sample.relayProcessCPU))
                }
            }
        }
        relay.stop()
        report(results)
    }

    private func pinned(_ cpu: Int?) -> [String] { cpu.map { ["taskset", "-c", String($0)] } ?? [] }

    private func waitForPorts(_ relay: LabProcess) -> (sender: Int, receiver: Int)? {
        let deadline = monotonic() + 20
        while monotonic() < deadline, relay.isRunning {
            if let line = relay.output.split(separator: "\n").first(where: { $0.hasPrefix("ports ") }) {
                let fields = line.split(separator: " ").compactMap { Int($0) }
                if fields.count == 2 { return (fields[0], fields[1]) }
            }
            pause(0.05)
        }
        return nil
    }

    private func measure(lab: Lab, executable: String, namespaces: (snd: String, rly: String, rcv: String), target: String, size: Int,
                         relayPID: Int32) throws -> Sample {
        let blaster = try lab.start(
            pinned(senderCPU) + [executable, "blast", "--to", target, "--size", String(size), "--seconds", String(window + 2)], in: namespaces.snd)
        pause(1)
        let cpuBefore = cpuJiffies(), relayBefore = processCPUSeconds(relayPID) ?? 0
        let before = try counters(lab: lab, namespaces, size: size)
        pause(window)
        let after = try counters(lab: lab, namespaces, size: size)
        let cpuAfter = cpuJiffies(), relayAfter = processCPUSeconds(relayPID) ?? relayBefore
        guard blaster.wait(timeout: 30) == 0 else { throw LabError.failed("the blaster failed: \(blaster.output)") }
        let elapsed = after.time - before.time
        func rate(_ path: KeyPath<Counters, Int>) -> Double { Double(after[keyPath: path] - before[keyPath: path]) / elapsed }
        return Sample(offered: rate(\.offered), forwarded: rate(\.forwarded), received: rate(\.received), socketDrops: rate(\.socketDrops),
                      relayProcessCPU: (relayAfter - relayBefore) / elapsed, cpuBusy: busyFractions(cpuBefore, cpuAfter))
    }

    /// Interface counters of the three namespaces, in datagrams of `size` bytes, and rly's UDP
    /// receive-buffer drops.
    ///
    /// Datagrams, not packets: the relay sends runs of datagrams as UDP GSO messages, which a veth
    /// passes on (and counts) as one packet; the datagrams in one are its bytes less one set of
    /// Ethernet, IPv4 and UDP headers (42 bytes), divided by the payload size. For unsegmented
    /// packets this is the packet count.
    private func counters(lab: Lab, _ namespaces: (snd: String, rly: String, rcv: String), size: Int) throws -> Counters {
        var result = Counters()
        let started = monotonic()
        func datagrams(_ counts: (packets: Int, bytes: Int)) -> Int { max(0, counts.bytes - 42 * counts.packets) / size }
        result.offered = datagrams(try linkStatistics(lab: lab, namespace: namespaces.snd, interface: "eth0").tx)
        let relay = try lab.run(["sh", "-c", "ip -s -j link show dev in0; ip -s -j link show dev out0; cat /proc/net/snmp"], in: namespaces.rly).output
        let lines = relay.split(separator: "\n")
        if lines.count >= 2 {
            result.arrived = datagrams(Self.statistics(String(lines[0])).rx)
            result.forwarded = datagrams(Self.statistics(String(lines[1])).tx)
        }
        let udp = lines.filter { $0.hasPrefix("Udp: ") }
        if udp.count == 2 {
            let names = udp[0].split(separator: " "), values = udp[1].split(separator: " ")
            if let index = names.firstIndex(of: "RcvbufErrors"), index < values.count { result.socketDrops = Int(values[index]) ?? 0 }
        }
        result.received = datagrams(try linkStatistics(lab: lab, namespace: namespaces.rcv, interface: "eth0").rx)
        result.time = (started + monotonic()) / 2
        return result
    }

    private func linkStatistics(lab: Lab, namespace: String, interface: String) throws -> (rx: (packets: Int, bytes: Int), tx: (packets: Int, bytes: Int)) {
        Self.statistics(try lab.run(["ip", "-s", "-j", "link", "show", "dev", interface], in: namespace).output)
    }

    /// Packets and bytes received and sent, from `ip -s -j link show`.
    static func statistics(_ json: String) -> (rx: (packets: Int, bytes: Int), tx: (packets: Int, bytes: Int)) {
        guard let links = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]],
              let stats = links.first?["stats64"] as? [String: Any]
        else { return ((0, 0), (0, 0)) }
        func counts(_ direction: String) -> (packets: Int, bytes: Int) {
            let values = stats[direction] as? [String: Any]
            return (values?["packets"] as? Int ?? 0, values?["bytes"] as? Int ?? 0)
        }
        return (counts("rx"), counts("tx"))
    }

    private func report(_ results: [String: [Sample]]) {
        print("raw forwarding: sender (CPU \(senderCPU.map(String.init) ?? "any")) → rly → rcv; relay work on CPU \(relayCPU.map(String.init) ?? "any") (RPS of rly's ingress and the relay process);")
        print("\(trials) trials per mode and size, \(window) s window in the middle of each blast; rate = datagrams leaving rly towards rcv (UDP GSO messages counted by their segments)")
        print(machineDescription())
        print("")
        print("| payload (B) | forwarder | forwarded pps median | max | min | Gbit/s (payload) median | offered pps median | relay socket drops/s median | relay process (cores) | CPU \(relayCPU.map(String.init) ?? "-") busy | relay / kernel |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes {
            let kernel = Summary((results["kernel-\(size)"] ?? []).map(\.forwarded))
            for mode in ["kernel", "relay"] {
                let samples = results["\(mode)-\(size)"] ?? []
                let forwarded = Summary(samples.map(\.forwarded))
                let offered = Summary(samples.map(\.offered))
                let drops = Summary(samples.map(\.socketDrops))
                let process = Summary(samples.map(\.relayProcessCPU))
                let busy = Summary(samples.map { sample in relayCPU.map { $0 + 1 < sample.cpuBusy.count ? sample.cpuBusy[$0 + 1] : .nan } ?? .nan })
                let gigabits = forwarded.median * Double(size) * 8 / 1e9
                let name = mode == "kernel" ? "kernel (ip_forward)" : "RelayService"
                print("| \(size) | \(name) | \(format(forwarded.median, 0)) | \(format(forwarded.maximum, 0)) | \(format(forwarded.minimum, 0)) | \(format(gigabits, 3)) | \(format(offered.median, 0)) | \(format(drops.median, 0)) | \(mode == "relay" ? format(process.median, 2) : "—") | \(format(busy.median * 100, 0)) % | \(mode == "relay" ? format(forwarded.median / kernel.median * 100, 1) + " %" : "") |")
            }
        }
    }
}

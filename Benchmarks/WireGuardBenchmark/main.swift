// WireGuard device control benchmark: our backends beside wireguard-tools on the same data.
//
//   swift build -c release --product WireGuardBenchmark
//   .build/release/WireGuardBenchmark --backend userspace            # wireguard-go in a namespace
//   scripts/vm/run -- .build/release/WireGuardBenchmark --backend kernel   # kernel WireGuard in the VM
//
// Options: --peers 1000,10000  --rounds 3  --repeats 5  --message-size 4096  --messages-per-send 16
// Prints a Markdown table; see docs/benchmarks.md.
import Foundation
import MeshCore
import MeshCrypto
import MeshLab
import WireGuardControl

struct Options {
    var backend = "userspace"
    var peerCounts = [1000, 10000]
    var rounds = 3
    var messageSize = 4096
    var messagesPerSend = 16
    var repeats = 5

    init(_ arguments: [String]) throws {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            guard let value = iterator.next() else { throw LabError.failed("\(argument) needs a value") }
            switch argument {
            case "--backend": backend = value
            case "--peers": peerCounts = value.split(separator: ",").compactMap { Int($0) }
            case "--rounds": rounds = Int(value) ?? rounds
            case "--message-size": messageSize = Int(value) ?? messageSize
            case "--messages-per-send": messagesPerSend = Int(value) ?? messagesPerSend
            case "--repeats": repeats = max(1, Int(value) ?? repeats)
            default: throw LabError.failed("unknown option \(argument)")
            }
        }
        guard backend == "kernel" || backend == "userspace" else { throw LabError.failed("--backend kernel|userspace") }
    }
}

/// One device under test: ours (through the library) or wireguard-tools' (through `wg`).
struct BenchDevice {
    var name: String
    var device: any WireGuardDevice
    var stop: () -> Void
}

/// Progress on standard error, so a slow step shows where the time goes.
func progress(_ text: String) {
    FileHandle.standardError.write(Data("[\(String(format: "%8.3f", now() - startTime))] \(text)\n".utf8))
}

let startTime = now()

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}

struct Peer {
    var key: X25519PublicKey
    var endpoint: SocketEndpoint
    var allowed: IPPrefix
}

func makePeers(_ count: Int) -> [Peer] {
    var peers: [Peer] = []
    peers.reserveCapacity(count)
    for n in 0..<count {
        let host = UInt32(n % 254 + 1)
        let address = IPv4Address(0xC000_0200 | host)
        let port = UInt16(10000 + n % 50000)
        let allowed = IPPrefix(host: .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64(n) + 1)))
        peers.append(Peer(key: X25519PrivateKey().publicKey, endpoint: SocketEndpoint(address: .v4(address), port: port), allowed: allowed))
    }
    return peers
}

/// Runs the wg commands in one shell inside the namespace, timing each with bash's `time`, so
/// that `ip netns exec` is not counted; `/bin/true` timed the same way is the process-spawn cost.
func timeWireGuardTools(
    namespace: String, interface: String, config: String, update: (X25519PublicKey, [SocketEndpoint]), repeats: Int
) throws -> (setconf: Double, set: [Double], dump: [Double], spawn: Double) {
    var script = """
        set -e
        t() { local s=$EPOCHREALTIME; "$@"; local e=$EPOCHREALTIME; echo "$1 $s $e"; }
        dump() { wg show "$1" dump >/dev/null; }
        t /bin/true
        t wg setconf \(interface) \(config)

        """
    for index in 0..<repeats {
        script += "t wg set \(interface) peer \(update.0.base64) endpoint \(update.1[index % update.1.count])\n"
    }
    for _ in 0..<repeats { script += "t dump \(interface)\n" }
    let result = try LabCommand.run(["bash", "-c", script], in: namespace, timeout: 600)
    var spawn = 0.0, setconf = 0.0, set: [Double] = [], dump: [Double] = []
    for line in result.output.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let start = Double(fields[1]), let end = Double(fields[2]) else { continue }
        switch (fields[0], end - start) {
        case let ("/bin/true", value): spawn = value
        case let ("dump", value): dump.append(value)
        case let ("wg", value): if setconf == 0 { setconf = value } else { set.append(value) }
        default: break
        }
    }
    guard setconf > 0, set.count == repeats, dump.count == repeats else {
        throw LabError.failed("unexpected timing output: \(result.output) \(result.errorOutput)")
    }
    return (setconf, set, dump, spawn)
}

func writeConfig(_ peers: [Peer], privateKey: X25519PrivateKey, port: UInt16, to path: String) throws {
    var text = "[Interface]\nPrivateKey = \(privateKey.base64EncodedSecret())\nListenPort = \(port)\n"
    text.reserveCapacity(peers.count * 160)
    for peer in peers {
        text += "\n[Peer]\nPublicKey = \(peer.key.base64)\nEndpoint = \(peer.endpoint)\nAllowedIPs = \(peer.allowed)\n"
    }
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

func run() throws {
    let options = try Options(CommandLine.arguments)
    let lab = try Lab(prefix: "mwbench")
    defer { lab.teardown() }
    let namespace = try lab.addNamespace("bench")
    let links = try LinkManager(namespace: namespace)

    func makeDevice(_ role: String) throws -> BenchDevice {
        switch options.backend {
        case "kernel":
            let name = "b\(role)"
            try links.createLink(named: name, kind: "wireguard")
            let device = try KernelWireGuardDevice(
                interfaceName: name, namespace: namespace, maximumMessageSize: options.messageSize, messagesPerSend: options.messagesPerSend)
            // Deleting a WireGuard link with thousands of peers takes the emulated kernel many
            // seconds (RCU grace periods per peer): leave the links to die with the namespace.
            return BenchDevice(name: name, device: device, stop: {})
        default:
            let name = lab.uniqueInterfaceName("b\(role)")
            let process = try WireGuardGoProcess(interfaceName: name, namespace: namespace)
            return BenchDevice(name: name, device: process.device(), stop: { process.stop() })
        }
    }

    let repeats = options.repeats
    var rows: [(String, Int, Double, Double, Double)] = []  // operation, peers, ours, wg, spawn
    for count in options.peerCounts {
        var ours: [String: [Double]] = [:]
        var tools: [String: [Double]] = [:]
        var spawn: [Double] = []
        for round in 0..<options.rounds {
            progress("\(count) peers, round \(round + 1): generating keys")
            let peers = makePeers(count)
            progress("creating our device")
            let key = X25519PrivateKey()
            let update = (peers[count / 2].key, [SocketEndpoint("198.51.100.77:4242")!, SocketEndpoint("198.51.100.78:4243")!])

            // Ours.
            let mine = try makeDevice("o\(count)r\(round)")
            let changes = WireGuardChangeSet(
                privateKey: key, listenPort: 40000,
                peersToAdd: peers.map { WireGuardPeerConfiguration(publicKey: $0.key, endpoint: $0.endpoint, allowedIPs: [$0.allowed]) })
            progress("applying")
            ours["apply", default: []].append(try time { try mine.device.apply(changes) })
            progress("updating and reading")
            for index in 0..<repeats {
                let endpoint = update.1[index % update.1.count]
                ours["update", default: []].append(try time {
                    try mine.device.apply(WireGuardChangeSet(peersToUpdate: [WireGuardPeerUpdate(publicKey: update.0, endpoint: endpoint)]))
                })
            }
            var state: WireGuardDeviceState? = nil
            for _ in 0..<repeats {
                ours["read", default: []].append(try time { state = try mine.device.read() })
            }
            guard state?.peers.count == count, state?.peers[update.0]?.endpoint == update.1[(repeats - 1) % 2] else {
                throw LabError.failed("our device read back \(state?.peers.count ?? -1) peers, expected \(count)")
            }
            mine.stop()

            // wireguard-tools on the same data.
            progress("wireguard-tools")
            let theirs = try makeDevice("w\(count)r\(round)")
            let config = "/tmp/meshwork-bench-\(getpid())-\(round).conf"
            try writeConfig(peers, privateKey: key, port: 40001, to: config)
            defer { unlink(config) }
            let timing = try timeWireGuardTools(namespace: namespace, interface: theirs.name, config: config, update: update, repeats: repeats)
            tools["apply", default: []].append(timing.setconf)
            tools["update", default: []].append(contentsOf: timing.set)
            tools["read", default: []].append(contentsOf: timing.dump)
            spawn.append(timing.spawn)
            let check = try theirs.device.read()
            guard check.peers.count == count else { throw LabError.failed("wg setconf left \(check.peers.count) peers, expected \(count)") }
            theirs.stop()
        }
        for operation in ["apply", "update", "read"] {
            rows.append((operation, count, median(ours[operation] ?? []), median(tools[operation] ?? []), median(spawn)))
        }
    }

    let names = ["apply": "apply N peers from empty", "update": "one endpoint update", "read": "read the device"]
    let wgNames = ["apply": "wg setconf", "update": "wg set … endpoint", "read": "wg show dump"]
    print("backend: \(options.backend), rounds: \(options.rounds) (fresh devices), update and read repeated \(options.repeats)× per round; medians; message size: \(options.messageSize), messages per send: \(options.messagesPerSend)")
    print("")
    print("| operation | peers | ours (ms) | wireguard-tools | wg (ms) | wg − spawn (ms) | ours / wg | ours / (wg − spawn) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for (operation, count, mine, theirs, spawnCost) in rows {
        let corrected = theirs - spawnCost
        let correctedText = corrected > 0 ? String(format: "%.2f", corrected * 1000) : "—"
        let correctedRatio = corrected > 0 ? String(format: "%.2f", mine / corrected) : "—"
        print(String(
            format: "| %@ | %d | %.2f | %@ | %.2f | %@ | %.2f | %@ |", names[operation] ?? operation, count, mine * 1000,
            wgNames[operation] ?? "", theirs * 1000, correctedText, mine / theirs, correctedRatio))
    }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("WireGuardBenchmark: \(error)\n".utf8))
    exit(1)
}

import ArgumentParser
import Foundation
import MeshControl

struct PeersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers",
        abstract: "Show every member: addresses, endpoint and path in use, handshake age, RTT, traffic, state.")

    @OptionGroup var daemon: DaemonOptions

    @Flag(help: "Print a JSON array (fields: name, id, addresses, endpoint, path, relay, reason, lastHandshakeSeconds, rttMilliseconds, rxBytes, txBytes, state, …).")
    var json = false

    @Flag(help: "Refresh every second until interrupted (in place on a terminal; with --json, one array per line).")
    var watch = false

    func run() throws {
        guard watch else { return try show(clear: false) }
        let terminal = isatty(STDOUT_FILENO) == 1
        while true {
            try show(clear: terminal)
            fflush(nil)
            usleep(1_000_000)
        }
    }

    /// One listing; `clear`: first move to the top of the terminal and clear it.
    private func show(clear: Bool) throws {
        let peers = try daemon.send(ControlRequest.peers, expecting: [PeerReport].self)
        if json { return printJSON(peers, compact: watch) }
        if clear { print("\u{1B}[H\u{1B}[2J", terminator: "") }
        guard !peers.isEmpty else { return print("no peers yet") }
        var rows = [["NAME", "ADDRESSES", "ENDPOINT", "PATH", "HANDSHAKE", "RTT", "RX", "TX", "STATE"]]
        for peer in peers {
            let path = peer.path == "relay" ? "relay via \(peer.relay ?? "?")" : peer.path
            rows.append([
                peer.name, peer.addresses.joined(separator: ","), peer.endpoint ?? "-", path,
                peer.lastHandshakeSeconds.map { Self.age($0) } ?? "-",
                peer.rttMilliseconds.map { String(format: "%.1f ms", $0) } ?? "-",
                Self.bytes(peer.rxBytes), Self.bytes(peer.txBytes), peer.state,
            ])
        }
        print(table(rows))
        for peer in peers where peer.reason != nil {
            print("  \(peer.name): \(peer.reason ?? "")")
        }
    }

    static func age(_ seconds: Double) -> String {
        seconds < 120 ? "\(Int(seconds))s ago" : (seconds < 7200 ? "\(Int(seconds / 60))m ago" : "\(Int(seconds / 3600))h ago")
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show this node: network, interface, backend, addresses, counts, and discarded datagrams by reason.")

    @OptionGroup var daemon: DaemonOptions

    @Flag(help: "Print a JSON object (fields: name, network, interface, backend, addresses, peerCount, drops, …).")
    var json = false

    func run() throws {
        let status = try daemon.send(ControlRequest.status, expecting: StatusReport.self)
        if json { return printJSON(status) }
        print("node       \(status.name ?? "(not enrolled)")\(status.id.map { " (\($0))" } ?? "")")
        print("network    \(status.network ?? "-")   enrollment: \(status.enrollment)\(status.authority ? "   holds the authority" : "")")
        print("interface  \(status.interface) (\(status.backend)), listen port \(status.listenPort), gossip port \(status.gossipPort)")
        print("addresses  \(status.addresses.joined(separator: ", "))")
        if let linkLocal = status.linkLocal { print("link-local \(linkLocal) (on \(status.interface))") }
        if !status.routes.isEmpty {
            print("routes     " + status.routes.map { "\($0.prefix) via \($0.active ?? "none")\($0.source == "daemon" ? " (daemon)" : "")" }.joined(separator: ", "))
        }
        if status.exit.use != "none" { print("exit       \(status.exit.use): \(status.exit.active ?? "none alive")") }
        print("endpoints  \(status.wireGuardEndpoints.joined(separator: ", "))\(status.behindNAT ? "   (behind NAT)" : "")")
        let states = status.membersByState.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print("peers      \(status.peerCount)\(states.isEmpty ? "" : " (\(states))")")
        let drops = status.drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("drops      \(drops.isEmpty ? "none" : drops)")
        if let relay = status.relay {
            print("relay      \(relay.allocations) allocation\(relay.allocations == 1 ? "" : "s"), forwarded \(relay.forwardedPackets) packets / \(PeersCommand.bytes(relay.forwardedBytes)), dropped \(relay.dropped)")
        }
        if let error = status.lastError { print("last error \(error)") }
    }
}

/// Left-aligned columns separated by two spaces.
func table(_ rows: [[String]]) -> String {
    guard let width = rows.first?.count else { return "" }
    let widths = (0..<width).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == width - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

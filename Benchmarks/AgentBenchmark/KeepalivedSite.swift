import BenchmarkSupport
import Foundation
import MeshLab

/// The S0 set-up as its users build it by hand (shared/seeds, "A highly available WireGuard VPN
/// setup"): two WireGuard servers (wireguard-go) with the same key and address, keepalived (VRRP)
/// moving a virtual IP (198.51.100.10) between them on their shared segment, a notify script that
/// brings WireGuard up on the master and down elsewhere, `wg show` as the track script; plus, so the
/// LAN failure has a chance, `track_interface lan1`. Each server forwards and masquerades into the
/// site (192.168.10.0/24). The client's WireGuard points at the virtual IP with
/// `PersistentKeepalive = 25` and routes the site through it.
final class KeepalivedSite: GatewayFailoverBenchmark.Site {
    let name = "keepalived + WireGuard (S0)"
    let lab: Lab
    let client: String
    let server = "192.168.10.10"
    static let virtualIP = "198.51.100.10"
    /// The two servers' namespaces (the better one first) and WireGuard interfaces.
    private let servers: [String]
    private let interfaces: [String]
    private let directory: String
    private let serverKey: String
    private let clientPublicKey: String
    private var keepaliveds: [LabProcess?] = [nil, nil]
    private var wireGuards: [LabProcess?] = [nil, nil]

    init(lab: Lab) throws {
        self.lab = lab
        // Not under /tmp: keepalived's script security refuses scripts below a world-writable directory.
        directory = "/run/mwka-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        lab.addCleanup { [directory] in try? FileManager.default.removeItem(atPath: directory) }
        let segment = try lab.addNamespace("kseg"), site = try lab.addNamespace("ksite")
        for namespace in [segment, site] {
            try lab.run(["ip", "link", "add", "br0", "type", "bridge"], in: namespace)
            try lab.run(["ip", "link", "set", "br0", "up"], in: namespace)
        }
        try lab.addAddress("\(server)/24", to: "br0", in: site)
        client = try lab.addNamespace("kclient")
        let (_, clientPort) = try lab.connect(client, segment, addressA: "198.51.100.100/24", nameA: "lan0", nameB: "p-client")
        try lab.run(["ip", "link", "set", clientPort, "master", "br0"], in: segment)
        var servers: [String] = []
        for (index, host) in [2, 3].enumerated() {
            let namespace = try lab.addNamespace("ks\(index)")
            let (_, up) = try lab.connect(namespace, segment, addressA: "198.51.100.\(host)/24", nameA: "lan0", nameB: "p-s\(index)")
            try lab.run(["ip", "link", "set", up, "master", "br0"], in: segment)
            let (_, down) = try lab.connect(namespace, site, addressA: "192.168.10.\(host)/24", nameA: "lan1", nameB: "q-s\(index)")
            try lab.run(["ip", "link", "set", down, "master", "br0"], in: site)
            try lab.enableForwarding(in: namespace)
            try lab.masquerade(outOf: "lan1", in: namespace)
            try Self.sourceLikeKernelWireGuard(namespace, lab: lab)
            servers.append(namespace)
        }
        self.servers = servers
        interfaces = [lab.uniqueInterfaceName("kas"), lab.uniqueInterfaceName("kas")]
        serverKey = try lab.run(["wg", "genkey"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let clientKey = try lab.run(["wg", "genkey"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        clientPublicKey = try lab.run(["wg", "pubkey"], input: clientKey + "\n").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let serverPublicKey = try lab.run(["wg", "pubkey"], input: serverKey + "\n").output.trimmingCharacters(in: .whitespacesAndNewlines)
        try write(serverKey + "\n", to: "server.key")
        try write(clientKey + "\n", to: "client.key")
        // The client: one peer, the virtual IP, the site through the tunnel.
        let clientInterface = lab.uniqueInterfaceName("kac")
        try lab.start(["wireguard-go", "-f", clientInterface], in: client)
        guard waitUntil(timeout: 10, { (try? lab.run(["ip", "link", "show", clientInterface], in: client, check: false).succeeded) == true }) != nil else {
            throw LabError.failed("wireguard-go did not create \(clientInterface)")
        }
        try lab.run([
            "wg", "set", clientInterface, "private-key", "\(directory)/client.key", "peer", serverPublicKey, "endpoint", "\(Self.virtualIP):51820",
            "allowed-ips", "10.99.0.0/24,192.168.10.0/24", "persistent-keepalive", "25",
        ], in: client)
        try lab.addAddress("10.99.0.2/24", to: clientInterface, in: client)
        try lab.run(["ip", "link", "set", clientInterface, "up"], in: client)
        try lab.run(["ip", "route", "add", "192.168.10.0/24", "dev", clientInterface], in: client)
        for index in 0..<2 {
            try writeKeepalivedConfiguration(index)
            try startServer(index)
        }
    }

    private func write(_ text: String, to name: String, mode: Int = 0o600) throws {
        let path = "\(directory)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// The seed's keepalived.conf and notify script, per server (priority 100 and 99).
    private func writeKeepalivedConfiguration(_ index: Int) throws {
        let interface = interfaces[index]
        try write("""
            #!/bin/sh
            case "$3" in
              MASTER) ip link set up dev \(interface) ;;
              *) ip link set down dev \(interface) ;;
            esac
            """, to: "notify-\(index).sh", mode: 0o700)
        try write("""
            global_defs {
                enable_script_security
                script_user root
            }
            vrrp_script check_wg {
                script "/usr/bin/wg show \(interface)"
                interval 1
                user root
            }
            vrrp_instance wg_v4 {
                interface lan0
                virtual_router_id 52
                notify \(directory)/notify-\(index).sh
                state BACKUP
                priority \(100 - index)
                advert_int 1
                virtual_ipaddress {
                    \(Self.virtualIP)/24
                }
                track_script {
                    check_wg
                }
                track_interface {
                    lan1
                }
            }
            """, to: "keepalived-\(index).conf")
    }

    /// Kernel WireGuard, which the seed uses, answers from the address a packet came to: the
    /// virtual IP, whichever server holds it. wireguard-go answers from the route's source address,
    /// the server's own: the client then roamed to that address (it follows any authenticated
    /// source) and, once that server was backup again, stayed with a server whose interface was
    /// down — a stall of our making, not the seed's. So WireGuard's packets leave both servers with
    /// the virtual IP as source, as kernel WireGuard's would: rewritten statelessly after
    /// connection tracking (a source NAT clashed with the client's own flow and changed the port).
    private static func sourceLikeKernelWireGuard(_ namespace: String, lab: Lab) throws {
        try lab.nft("""
            table ip mwka_source {
              chain output {
                type filter hook output priority 300;
                oifname "lan0" udp sport 51820 ip saddr set \(Self.virtualIP)
              }
            }
            """, in: namespace)
    }

    /// wireguard-go with the shared key (down until keepalived makes it master), then keepalived.
    private func startServer(_ index: Int) throws {
        let namespace = servers[index], interface = interfaces[index]
        wireGuards[index] = try lab.start(["wireguard-go", "-f", interface], in: namespace)
        guard waitUntil(timeout: 10, { (try? lab.run(["ip", "link", "show", interface], in: namespace, check: false).succeeded) == true }) != nil else {
            throw LabError.failed("wireguard-go did not create \(interface)")
        }
        try lab.run([
            "wg", "set", interface, "private-key", "\(directory)/server.key", "listen-port", "51820", "peer", clientPublicKey,
            "allowed-ips", "10.99.0.2/32", "persistent-keepalive", "25",
        ], in: namespace)
        try lab.addAddress("10.99.0.1/24", to: interface, in: namespace)
        keepaliveds[index] = try lab.start([
            "keepalived", "--dont-fork", "--log-console", "--vrrp", "--use-file", "\(directory)/keepalived-\(index).conf",
            "--pid", "\(directory)/keepalived-\(index).pid", "--vrrp_pid", "\(directory)/vrrp-\(index).pid",
        ], in: namespace)
    }

    func inject(_ failure: GatewayFailoverBenchmark.Failure) throws {
        switch failure {
        case .killed:
            // kill -9 the daemon and WireGuard (wireguard-go; its interface goes with it).
            for process in [keepaliveds[0], wireGuards[0]] { if let pid = process?.processIdentifier { kill(pid, SIGKILL) } }
            _ = keepaliveds[0]?.wait(timeout: 5)
            _ = wireGuards[0]?.wait(timeout: 5)
        case .lan: try lab.run(["ip", "link", "set", "lan1", "down"], in: servers[0])
        case .uplink: try lab.run(["ip", "link", "set", "lan0", "down"], in: servers[0])
        }
    }

    func repair(_ failure: GatewayFailoverBenchmark.Failure) throws {
        switch failure {
        case .killed:
            // keepalived killed with -9 left the virtual IP behind: a restart starts clean.
            try lab.run(["ip", "address", "del", "\(Self.virtualIP)/24", "dev", "lan0"], in: servers[0], check: false)
            try startServer(0)
        case .lan: try lab.run(["ip", "link", "set", "lan1", "up"], in: servers[0])
        case .uplink: try lab.run(["ip", "link", "set", "lan0", "up"], in: servers[0])
        }
    }

    func diagnostics() -> String {
        var lines: [String] = []
        for (index, namespace) in servers.enumerated() {
            lines.append("--- server \(index): wg show; lan0; keepalived")
            lines.append((try? lab.run(["wg", "show", interfaces[index]], in: namespace, check: false).output) ?? "?")
            lines.append((try? lab.run(["ip", "-o", "address", "show"], in: namespace, check: false).output) ?? "?")
            lines.append(String((keepaliveds[index]?.output ?? "").suffix(1500)))
        }
        lines.append("--- client: wg show")
        lines.append((try? lab.run(["wg", "show"], in: client, check: false).output) ?? "?")
        return lines.joined(separator: "\n")
    }

    /// The better server holds the virtual IP (the other does not) and its WireGuard receives the
    /// client's pings (a client whose ARP entry or session still points at the other one does not
    /// count).
    func primaryActive() -> Bool {
        func holds(_ index: Int) -> Bool {
            ((try? lab.run(["ip", "-4", "-o", "address", "show", "dev", "lan0"], in: servers[index], check: false).output) ?? "").contains(Self.virtualIP + "/")
        }
        func received() -> Int? {
            let output = (try? lab.run(["wg", "show", interfaces[0], "transfer"], in: servers[0], check: false).output) ?? ""
            return output.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
        }
        guard holds(0), !holds(1), let before = received() else { return false }
        pause(0.3)
        guard let after = received() else { return false }
        return after > before
    }
}

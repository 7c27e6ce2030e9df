import Foundation
import MeshCore
import MeshCrypto
import MeshLab
import Testing
import WireGuardControl

/// The contract every WireGuard backend keeps, proven against the real thing: wireguard-go in
/// network namespaces (`MESHWORK_WG_BACKEND=userspace`, tier `lab`) and the kernel module inside
/// a VM (`MESHWORK_WG_BACKEND=kernel`, tier `kernel`).
@Suite(
    "WireGuard contract",
    .serialized,
    .enabled(if: ContractBackend.variableIsSet, "set MESHWORK_WG_BACKEND=userspace or kernel: run by `scripts/test lab` and `scripts/test kernel`")
)
struct WireGuardContractTests {
    let backend: ContractBackend
    let lab: Lab

    init() throws {
        backend = try ContractBackend.require()
        try requireTools(backend)
        lab = try Lab(prefix: "mwct")
    }

    // Teardown runs from Lab.deinit when the test's instance goes away, failing or not; tests
    // also call it explicitly with defer.

    @Test("two namespaces, keys and ports set, peers added: ping crosses the tunnel; planning again is empty")
    func pingAcrossTunnel() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a"), b = try lab.addNamespace("b")
        try lab.connect(a, b, addressA: "192.0.2.1/24", addressB: "192.0.2.2/24")
        let nodeA = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820, tunnelAddress: "198.51.100.1/24")
        let nodeB = try WireGuardNode(lab: lab, namespace: b, backend: backend, port: 51821, tunnelAddress: "198.51.100.2/24")
        let wantA = nodeA.desired([WireGuardDesiredPeer(publicKey: nodeB.publicKey, endpoint: SocketEndpoint("192.0.2.2:51821"), allowedIPs: [IPPrefix("198.51.100.2/32")])])
        let wantB = nodeB.desired([WireGuardDesiredPeer(publicKey: nodeA.publicKey, endpoint: SocketEndpoint("192.0.2.1:51820"), allowedIPs: [IPPrefix("198.51.100.1/32")])])
        let appliedA = try nodeA.device.reconcile(to: wantA)
        #expect(appliedA.peersToAdd.count == 1 && appliedA.privateKey != nil && appliedA.listenPort == 51820)
        try nodeB.device.reconcile(to: wantB)

        let counts = try lab.ping("198.51.100.2", from: a, count: 3)
        #expect(counts.received == 3, "ping across the tunnel: \(counts)")
        #expect(try nodeA.device.read().peers[nodeB.publicKey]?.lastHandshakeTime != nil)
        #expect(try nodeA.device.reconcile(to: wantA).isEmpty, "planning against the real device again is empty")
        #expect(try nodeB.device.reconcile(to: wantB).isEmpty)
    }

    @Test("read-back equals what was applied: keys, endpoints, allowed IPs, keepalive, fwmark")
    func readBack() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let node = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820)
        let peers = [
            WireGuardDesiredPeer(publicKey: X25519PrivateKey().publicKey, endpoint: SocketEndpoint("192.0.2.7:1234"),
                                 allowedIPs: [IPPrefix("198.51.100.7/32"), IPPrefix("2001:db8:7::/48")], persistentKeepalive: 25),
            WireGuardDesiredPeer(publicKey: X25519PrivateKey().publicKey, endpoint: SocketEndpoint("[2001:db8::8]:51820"),
                                 allowedIPs: [IPPrefix("198.51.100.8/32")], persistentKeepalive: 0),
            WireGuardDesiredPeer(publicKey: X25519PrivateKey().publicKey, endpoint: nil, allowedIPs: [], persistentKeepalive: 1),
        ]
        try node.device.reconcile(to: node.desired(peers, fwmark: 0x1234))
        let state = try node.device.read()
        #expect(state.interfaceName == node.interface)
        #expect(state.publicKey == node.publicKey)
        #expect(state.listenPort == 51820)
        #expect(state.fwmark == 0x1234)
        #expect(state.peers.count == 3)
        for want in peers {
            let have = try #require(state.peers[want.publicKey])
            #expect(have.endpoint == want.endpoint)
            #expect(Set(have.allowedIPs) == want.allowedIPs)
            #expect(have.persistentKeepalive == want.persistentKeepalive)
            #expect(have.lastHandshakeTime == nil)
        }
        #expect(try node.device.reconcile(to: node.desired(peers, fwmark: 0x1234)).isEmpty)
        // Clearing the fwmark.
        try node.device.apply(WireGuardChangeSet(fwmark: 0))
        #expect(try node.device.read().fwmark == 0)
    }

    @Test("updating one peer's endpoint does not disturb another: same handshake, no lost pings")
    func endpointUpdateLeavesOtherPeerAlone() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a"), b = try lab.addNamespace("b"), c = try lab.addNamespace("c")
        try lab.connect(a, c, addressA: "203.0.113.1/24", addressB: "203.0.113.3/24")
        let (_, bSide) = try lab.connect(a, b, addressA: "192.0.2.1/24", addressB: "192.0.2.2/24")
        try lab.addAddress("192.0.2.20/24", to: bSide, in: b)  // B's second address: the new endpoint
        let nodeA = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820, tunnelAddress: "198.51.100.1/24")
        let nodeB = try WireGuardNode(lab: lab, namespace: b, backend: backend, port: 51821, tunnelAddress: "198.51.100.2/24")
        let nodeC = try WireGuardNode(lab: lab, namespace: c, backend: backend, port: 51822, tunnelAddress: "198.51.100.3/24")
        func wantA(bEndpoint: String) -> WireGuardDesiredState {
            nodeA.desired([
                WireGuardDesiredPeer(publicKey: nodeB.publicKey, endpoint: SocketEndpoint(bEndpoint), allowedIPs: [IPPrefix("198.51.100.2/32")]),
                WireGuardDesiredPeer(publicKey: nodeC.publicKey, endpoint: SocketEndpoint("203.0.113.3:51822"), allowedIPs: [IPPrefix("198.51.100.3/32")]),
            ])
        }
        try nodeA.device.reconcile(to: wantA(bEndpoint: "192.0.2.2:51821"))
        try nodeB.device.reconcile(to: nodeB.desired([WireGuardDesiredPeer(publicKey: nodeA.publicKey, allowedIPs: [IPPrefix("198.51.100.1/32")])]))
        try nodeC.device.reconcile(to: nodeC.desired([WireGuardDesiredPeer(publicKey: nodeA.publicKey, allowedIPs: [IPPrefix("198.51.100.1/32")])]))
        #expect(try lab.ping("198.51.100.2", from: a, count: 2).received == 2)
        #expect(try lab.ping("198.51.100.3", from: a, count: 2).received == 2)
        let before = try #require(try nodeA.device.read().peers[nodeC.publicKey])
        let handshake = try #require(before.lastHandshakeTime)

        let pinger = try lab.start(["ping", "-n", "-q", "-i", "0.05", "-c", "80", "-w", "30", "198.51.100.3"], in: a)
        usleep(1_000_000)
        let changes = try nodeA.device.reconcile(to: wantA(bEndpoint: "192.0.2.20:51821"))
        #expect(changes.peersToUpdate == [WireGuardPeerUpdate(publicKey: nodeB.publicKey, endpoint: SocketEndpoint("192.0.2.20:51821"))])
        #expect(changes.peersToAdd.isEmpty && changes.peersToRemove.isEmpty && changes.privateKey == nil)
        let status = pinger.wait(timeout: 40)
        let counts = try Lab.pingCounts(pinger.output)
        #expect(status == 0 && counts.transmitted == 80 && counts.received == 80, "continuous ping to C during B's update: \(counts)")

        let after = try nodeA.device.read()
        #expect(after.peers[nodeC.publicKey]?.lastHandshakeTime == handshake, "C's session was not touched")
        #expect(after.peers[nodeC.publicKey]?.endpoint == SocketEndpoint("203.0.113.3:51822"))
        #expect(after.peers[nodeB.publicKey]?.endpoint == SocketEndpoint("192.0.2.20:51821"))
        #expect(try lab.ping("198.51.100.2", from: a, count: 2).received == 2, "B answers at its new endpoint")
    }

    @Test("a peer with 1,000 allowed IPs applies, reads back exactly, and shrinks exactly")
    func thousandAllowedIPs() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let node = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820)
        let key = X25519PrivateKey().publicKey
        let all = Set((0..<1000).map(ContractPrefixes.v6))
        let want = node.desired([WireGuardDesiredPeer(publicKey: key, endpoint: SocketEndpoint("192.0.2.9:51820"), allowedIPs: all, persistentKeepalive: 15)])
        try node.device.reconcile(to: want)
        let state = try node.device.read()
        #expect(state.peers.count == 1)
        #expect(Set(state.peers[key]?.allowedIPs ?? []) == all)
        #expect(state.peers[key]?.allowedIPs.count == 1000)
        #expect(state.peers[key]?.endpoint == SocketEndpoint("192.0.2.9:51820"))
        #expect(try node.device.reconcile(to: want).isEmpty)

        let half = Set((0..<1000).filter { $0 % 2 == 0 }.map(ContractPrefixes.v6))
        let shrunk = node.desired([WireGuardDesiredPeer(publicKey: key, allowedIPs: half, persistentKeepalive: 15)])
        let changes = try node.device.reconcile(to: shrunk)
        #expect(changes.peersToUpdate.count == 1 && changes.peersToUpdate.first?.endpoint == nil)
        let after = try node.device.read()
        #expect(Set(after.peers[key]?.allowedIPs ?? []) == half)
        #expect(after.peers[key]?.endpoint == SocketEndpoint("192.0.2.9:51820"), "endpoint nil kept the device's")
        #expect(try node.device.reconcile(to: shrunk).isEmpty)
    }

    @Test("a device with 1,000 peers applies and reads back exactly")
    func thousandPeers() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let node = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820)
        let peers = (0..<1000).map { n in
            WireGuardDesiredPeer(
                publicKey: X25519PrivateKey().publicKey,
                endpoint: n % 2 == 0 ? SocketEndpoint("192.0.2.\(n % 250 + 1):\(20000 + n)") : SocketEndpoint("[2001:db8::\(String(n, radix: 16))]:\(20000 + n)"),
                allowedIPs: [ContractPrefixes.v6Host(n)], persistentKeepalive: UInt16(n % 3 == 0 ? 25 : 0))
        }
        let want = node.desired(peers)
        let changes = try node.device.reconcile(to: want)
        #expect(changes.peersToAdd.count == 1000)
        let state = try node.device.read()
        #expect(state.peers.count == 1000)
        for peer in peers {
            let have = state.peers[peer.publicKey]
            #expect(have?.endpoint == peer.endpoint && have.map { Set($0.allowedIPs) } == peer.allowedIPs
                    && have?.persistentKeepalive == peer.persistentKeepalive, "peer \(peer.publicKey)")
        }
        #expect(try node.device.reconcile(to: want).isEmpty)
    }

    @Test("removing peers, removing one allowed IP, and an empty change set behave")
    func removals() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let node = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820)
        let keys = (0..<4).map { _ in X25519PrivateKey().publicKey }
        var peers = keys.enumerated().map { n, key in
            WireGuardDesiredPeer(publicKey: key, endpoint: SocketEndpoint("192.0.2.\(n + 1):51820"),
                                 allowedIPs: [ContractPrefixes.v4(n * 10), ContractPrefixes.v4(n * 10 + 1), ContractPrefixes.v6(n)])
        }
        try node.device.reconcile(to: node.desired(peers))
        let full = try node.device.read()

        // An empty change set changes nothing.
        try node.device.apply(WireGuardChangeSet())
        #expect(try node.device.read() == full)

        // Remove two peers.
        let removed = try node.device.reconcile(to: node.desired(Array(peers.prefix(2))))
        #expect(Set(removed.peersToRemove) == Set(keys.suffix(2)) && removed.peersToUpdate.isEmpty && removed.peersToAdd.isEmpty)
        #expect(Set(try node.device.read().peers.keys) == Set(keys.prefix(2)))

        // Update-only: a stale update for a peer removed meanwhile does not re-create it.
        try node.device.apply(WireGuardChangeSet(peersToUpdate: [
            WireGuardPeerUpdate(publicKey: keys[3], endpoint: SocketEndpoint("192.0.2.99:1"), persistentKeepalive: 5,
                                allowedIPs: (100..<400).map(ContractPrefixes.v6))
        ]))
        #expect(Set(try node.device.read().peers.keys) == Set(keys.prefix(2)))

        // Remove one allowed IP from peer 0; peer 1 stays as it was.
        peers[0].allowedIPs.remove(ContractPrefixes.v4(1))
        let shrink = try node.device.reconcile(to: node.desired(Array(peers.prefix(2))))
        #expect(shrink.peersToUpdate == [WireGuardPeerUpdate(publicKey: keys[0], allowedIPs: peers[0].allowedIPs.sorted())])
        let after = try node.device.read()
        #expect(Set(after.peers[keys[0]]?.allowedIPs ?? []) == peers[0].allowedIPs)
        #expect(after.peers[keys[1]] == full.peers[keys[1]])

        // Remove every peer.
        try node.device.reconcile(to: node.desired([]))
        #expect(try node.device.read().peers.isEmpty)
        #expect(try node.device.reconcile(to: node.desired([])).isEmpty)
    }

    @Test("bad input: unknown interface, interface of another kind, malformed key, vanished device")
    func badInput() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let links = try LinkManager(namespace: a)
        func device(_ name: String) throws -> any WireGuardDevice {
            switch backend {
            case .kernel: return try KernelWireGuardDevice(interfaceName: name, namespace: a)
            case .userspace: return UserspaceWireGuardDevice(interfaceName: name, namespace: a)
            }
        }
        #expect(throws: WireGuardControlError.noSuchInterface("nosuchwg0")) { try device("nosuchwg0").read() }
        #expect(throws: WireGuardControlError.noSuchInterface("nosuchwg0")) {
            try device("nosuchwg0").apply(WireGuardChangeSet(listenPort: 1))
        }
        #expect(throws: WireGuardControlError.noSuchInterface("nosuchwg0")) { try links.setMTU(1400, on: "nosuchwg0") }

        let b = try lab.addNamespace("b")
        let (veth, _) = try lab.connect(a, b, addressA: "192.0.2.1/24", addressB: "192.0.2.2/24")
        #expect(throws: WireGuardControlError.notWireGuard(interface: veth, kind: "veth")) { try device(veth).read() }
        #expect(throws: WireGuardControlError.notWireGuard(interface: veth, kind: "veth")) { try device(veth).apply(WireGuardChangeSet(listenPort: 1)) }
        let message = WireGuardControlError.notWireGuard(interface: veth, kind: "veth").description
        #expect(message.contains("\(veth) is a veth link, not wireguard"))
        #expect(throws: WireGuardControlError.interfaceExists(veth)) { try links.createLink(named: veth, kind: "wireguard") }

        #expect {
            _ = try WireGuardDesiredPeer(publicKeyBase64: "this is not a key")
        } throws: { error in
            guard case .malformedKey = error as? WireGuardControlError else { return false }
            return "\(error)".contains("base64")
        }
        #expect(throws: WireGuardControlError.self) { _ = try WireGuardKeyText.privateKey(base64: "AAAA") }

        // A device that vanishes underneath is reported, not crashed on.
        let node = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820)
        try node.device.reconcile(to: node.desired([]))
        switch backend {
        case .kernel: try links.deleteLink(named: node.interface)
        case .userspace: node.daemon?.stop()
        }
        #expect(throws: WireGuardControlError.noSuchInterface(node.interface)) { try node.device.read() }
        #expect(throws: WireGuardControlError.noSuchInterface(node.interface)) { try node.device.apply(WireGuardChangeSet(listenPort: 2)) }
        #expect(throws: WireGuardControlError.noSuchInterface(node.interface)) { try links.setUp(true, node.interface) }
    }

    @Test("kernel WireGuard missing gives 'no WireGuard module' (host run) or resolves (VM run)")
    func moduleMissing() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let links = try LinkManager(namespace: a)
        let hostHasModule = FileManager.default.fileExists(atPath: "/sys/module/wireguard")
        if backend == .userspace && !hostHasModule {
            #expect(throws: WireGuardControlError.moduleNotLoaded) { _ = try KernelWireGuardDevice(interfaceName: "wg0", namespace: a) }
            #expect(throws: WireGuardControlError.moduleNotLoaded) { try links.createLink(named: "wgmissing", kind: "wireguard") }
            #expect(WireGuardControlError.moduleNotLoaded.description.contains("modprobe wireguard"))
        } else {
            // With the module: the family resolves and links of kind wireguard are created.
            try links.createLink(named: "wgpresent", kind: "wireguard")
            _ = try KernelWireGuardDevice(interfaceName: "wgpresent", namespace: a).read()
        }
    }

    @Test("address change monitor: an address added or removed in its namespace wakes it, another namespace's does not; interrupt wakes it")
    func addressChangeMonitor() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a"), b = try lab.addNamespace("b")
        let (inA, inB) = try lab.connect(a, b)
        // No IPv6 on the new links: their link-local addresses finish duplicate address detection
        // a second or more later (longer under the kernel tier's emulation), and that notification
        // woke the monitor at a random point of this test (a CI run saw it as a second wake).
        try lab.run(["sysctl", "-qw", "net.ipv6.conf.\(inA).disable_ipv6=1"], in: a)
        try lab.run(["sysctl", "-qw", "net.ipv6.conf.\(inB).disable_ipv6=1"], in: b)
        let monitor = try AddressChangeMonitor(namespace: a)
        _ = monitor.wait(timeoutMilliseconds: 200)  // the links just made
        try lab.addAddress("198.51.100.9/24", to: inB, in: b)
        #expect(monitor.wait(timeoutMilliseconds: 300) == .timedOut, "a change in another namespace woke it")
        try lab.addAddress("198.51.100.8/24", to: inA, in: a)
        #expect(monitor.wait(timeoutMilliseconds: 5000) == .changed)
        try lab.run(["ip", "addr", "del", "198.51.100.8/24", "dev", inA], in: a)
        #expect(monitor.wait(timeoutMilliseconds: 5000) == .changed)
        #expect(monitor.wait(timeoutMilliseconds: 100) == .timedOut, "one change woke it twice")
        monitor.interrupt()
        #expect(monitor.wait(timeoutMilliseconds: 5000) == .interrupted)
    }

    @Test("link manager: MTU, up/down, IPv4 and IPv6 addresses, routes in a table, policy rules, lookups by name and kind")
    func linkManagement() throws {
        defer { lab.teardown() }
        let a = try lab.addNamespace("a")
        let node = try WireGuardNode(lab: lab, namespace: a, backend: backend, port: 51820)
        let links = node.links
        let name = node.interface
        let link = try #require(try links.link(named: name))
        #expect(link.kind == (backend == .kernel ? "wireguard" : "tun"))
        #expect(link.isUp)
        #expect(try links.links(ofKind: link.kind).map(\.name).contains(name))
        let b = try lab.addNamespace("b")
        let (veth, _) = try lab.connect(a, b)
        #expect(try links.links(ofKind: "veth").map(\.name) == [veth])
        #expect(try links.links().map(\.name).contains("lo"))

        try links.setMTU(1380, on: name)
        #expect(try links.link(named: name)?.mtu == 1380)
        let v4 = try #require(InterfaceAddress("198.51.100.1/24")), v6 = try #require(InterfaceAddress("2001:db8:1::1/64"))
        try links.addAddress(v4, to: name)
        try links.addAddress(v4, to: name)  // idempotent
        try links.addAddress(v6, to: name, noDAD: true)
        #expect(Set(try links.addresses(of: name)).isSuperset(of: [v4, v6]))

        try links.addRoute(IPPrefix("203.0.113.0/24"), via: name)
        try links.addRoute(IPPrefix("2001:db8:99::/48"), via: name, table: 1000)
        #expect(try links.routes(via: name).contains(IPPrefix("203.0.113.0/24")))
        #expect(try links.routes(via: name, table: 1000) == [IPPrefix("2001:db8:99::/48")])
        let table = try lab.run(["ip", "-6", "route", "show", "table", "1000"], in: a).output
        #expect(table.contains("2001:db8:99::/48 dev \(name)"))
        try links.removeRoute(IPPrefix("2001:db8:99::/48"), via: name, table: 1000)
        #expect(try links.routes(via: name, table: 1000).isEmpty)

        // Policy rules (the exit technique): added once, listed by protocol, removed; `ip rule` agrees.
        let suppress = PolicyRule(isIPv6: false, priority: 32764, table: 254, suppressPrefixLength: 0, protocol: 77)
        let unmarked = PolicyRule(isIPv6: true, priority: 32765, table: 51820, fwmark: 0xca6c, invert: true, protocol: 77)
        try links.addRule(suppress)
        try links.addRule(suppress)  // idempotent
        try links.addRule(unmarked)
        #expect(Set(try links.rules(protocol: 77)) == [suppress, unmarked])
        #expect(try lab.run(["ip", "-4", "rule", "show"], in: a).output.contains("32764:\tfrom all lookup main suppress_prefixlength 0 proto 77"))
        #expect(try lab.run(["ip", "-6", "rule", "show"], in: a).output.contains("32765:\tnot from all fwmark 0xca6c lookup 51820 proto 77"))
        try links.removeRule(suppress)
        try links.removeRule(unmarked)
        try links.removeRule(unmarked)  // already gone
        #expect(try links.rules(protocol: 77).isEmpty)
        #expect(try links.rules().count >= 4, "the kernel's own rules (local, main, default) are listed")

        try links.removeAddress(v6, from: name)
        #expect(!(try links.addresses(of: name)).contains(v6))
        try links.setUp(false, name)
        #expect(try links.link(named: name)?.isUp == false)
        try links.setUp(true, name)

        try links.deleteLink(named: veth)
        #expect(try links.link(named: veth) == nil)
        #expect(throws: WireGuardControlError.noSuchInterface(veth)) { try links.deleteLink(named: veth) }
    }
}

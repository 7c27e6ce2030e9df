import MeshCore
import MeshCrypto
import Testing
@testable import WireGuardControl

@Suite("Change-set planner")
struct WireGuardChangeSetPlanningTests {
    func actual(_ peers: [WireGuardPeerState], port: UInt16 = 51820, key: X25519PublicKey? = nil, fwmark: UInt32 = 0) -> WireGuardDeviceState {
        WireGuardDeviceState(
            interfaceName: "mesh0", publicKey: key, listenPort: port, fwmark: fwmark,
            peers: Dictionary(uniqueKeysWithValues: peers.map { ($0.publicKey, $0) }))
    }

    @Test("identical state: empty change set")
    func identical() {
        let peer = WireGuardPeerState(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint, allowedIPs: [Fixtures.prefix(2), Fixtures.prefix(1)], persistentKeepalive: 25)
        let desired = WireGuardDesiredState(listenPort: 51820, peers: [
            WireGuardDesiredPeer(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint, allowedIPs: [Fixtures.prefix(1), Fixtures.prefix(2)], persistentKeepalive: 25)
        ])
        #expect(WireGuardChangeSet.between(desired: desired, actual: actual([peer])).isEmpty)
    }

    @Test("adds, removes, and updates only what changed")
    func addUpdateRemove() throws {
        let have = actual([
            WireGuardPeerState(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint, allowedIPs: [Fixtures.prefix(1)]),
            WireGuardPeerState(publicKey: Fixtures.key(2), endpoint: Fixtures.endpoint, allowedIPs: [Fixtures.prefix(2)], persistentKeepalive: 25),
            WireGuardPeerState(publicKey: Fixtures.key(3), allowedIPs: [Fixtures.prefix(3)]),
        ])
        let desired = WireGuardDesiredState(peers: [
            // 1: endpoint changes only
            WireGuardDesiredPeer(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint6, allowedIPs: [Fixtures.prefix(1)]),
            // 2: keepalive and allowed IPs change, endpoint "no opinion"
            WireGuardDesiredPeer(publicKey: Fixtures.key(2), endpoint: nil, allowedIPs: [Fixtures.prefix(2), Fixtures.prefix(20)], persistentKeepalive: 0),
            // 4: new
            WireGuardDesiredPeer(publicKey: Fixtures.key(4), endpoint: Fixtures.endpoint, allowedIPs: [Fixtures.prefix(4)], persistentKeepalive: 10),
        ])
        let changes = WireGuardChangeSet.between(desired: desired, actual: have)
        #expect(changes.privateKey == nil && changes.listenPort == nil && changes.fwmark == nil)
        #expect(changes.peersToRemove == [Fixtures.key(3)])
        #expect(changes.peersToAdd == [WireGuardPeerConfiguration(publicKey: Fixtures.key(4), endpoint: Fixtures.endpoint, persistentKeepalive: 10, allowedIPs: [Fixtures.prefix(4)])])
        #expect(changes.peersToUpdate == [
            WireGuardPeerUpdate(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint6),
            WireGuardPeerUpdate(publicKey: Fixtures.key(2), persistentKeepalive: 0, allowedIPs: [Fixtures.prefix(2), Fixtures.prefix(20)]),
        ])
    }

    @Test("a nil desired endpoint keeps what the device learned (roaming)")
    func endpointNilKeeps() {
        let roamed = SocketEndpoint("203.0.113.9:40000")!
        let have = actual([WireGuardPeerState(publicKey: Fixtures.key(1), endpoint: roamed, allowedIPs: [Fixtures.prefix(1)])])
        let desired = WireGuardDesiredState(peers: [WireGuardDesiredPeer(publicKey: Fixtures.key(1), allowedIPs: [Fixtures.prefix(1)])])
        #expect(WireGuardChangeSet.between(desired: desired, actual: have).isEmpty)
    }

    @Test("allowed IPs compare as sets: order does not cause an update")
    func allowedIPsAsSets() {
        let have = actual([WireGuardPeerState(publicKey: Fixtures.key(1), allowedIPs: [Fixtures.prefix6(1), Fixtures.prefix(3), Fixtures.prefix(2)])])
        let desired = WireGuardDesiredState(peers: [WireGuardDesiredPeer(publicKey: Fixtures.key(1), allowedIPs: [Fixtures.prefix(2), Fixtures.prefix(3), Fixtures.prefix6(1)])])
        #expect(WireGuardChangeSet.between(desired: desired, actual: have).isEmpty)
        let fewer = WireGuardDesiredState(peers: [WireGuardDesiredPeer(publicKey: Fixtures.key(1), allowedIPs: [Fixtures.prefix(2), Fixtures.prefix(3)])])
        #expect(WireGuardChangeSet.between(desired: fewer, actual: have).peersToUpdate == [
            WireGuardPeerUpdate(publicKey: Fixtures.key(1), allowedIPs: [Fixtures.prefix(2), Fixtures.prefix(3)])
        ])
    }

    @Test("device fields change only when desired and different; port 0 means any")
    func deviceFields() {
        let key = X25519PrivateKey()
        let have = actual([], port: 51820, key: key.publicKey, fwmark: 5)
        #expect(WireGuardChangeSet.between(desired: WireGuardDesiredState(privateKey: key, listenPort: 51820, fwmark: 5), actual: have).isEmpty)
        #expect(WireGuardChangeSet.between(desired: WireGuardDesiredState(listenPort: 0), actual: have).isEmpty)
        let other = X25519PrivateKey()
        let changes = WireGuardChangeSet.between(desired: WireGuardDesiredState(privateKey: other, listenPort: 1000, fwmark: 0), actual: have)
        #expect(changes.privateKey?.publicKey == other.publicKey)
        #expect(changes.listenPort == 1000)
        #expect(changes.fwmark == 0)
    }

    @Test("plan, apply to the in-memory device, plan again: empty (random states)", arguments: 0..<25)
    func idempotent(seed: Int) throws {
        var random = SeededGenerator(seed: UInt64(seed))
        func randomPeers(_ count: Int) -> [Int] { (0..<count).map { _ in Int.random(in: 0..<40, using: &random) } }
        func prefixes() -> [IPPrefix] {
            (0..<Int.random(in: 0..<5, using: &random)).map { _ in
                Bool.random(using: &random) ? Fixtures.prefix(Int.random(in: 0..<30, using: &random)) : Fixtures.prefix6(Int.random(in: 0..<30, using: &random))
            }
        }
        let endpoints = [nil, Fixtures.endpoint, Fixtures.endpoint6, SocketEndpoint("198.51.100.7:1234")]
        var initial = WireGuardDeviceState(interfaceName: "mesh0", listenPort: 1)
        for n in Set(randomPeers(20)) {
            initial.peers[Fixtures.key(n)] = WireGuardPeerState(
                publicKey: Fixtures.key(n), endpoint: endpoints.randomElement(using: &random)!,
                allowedIPs: Array(Set(prefixes())), persistentKeepalive: UInt16.random(in: 0...2, using: &random))
        }
        // Make initial allowed IPs unique across peers, as in a real device.
        var owner: [IPPrefix: X25519PublicKey] = [:]
        for (key, peer) in initial.peers { for prefix in peer.allowedIPs { owner[prefix] = key } }
        for (key, var peer) in initial.peers { peer.allowedIPs = peer.allowedIPs.filter { owner[$0] == key }.sorted(); initial.peers[key] = peer }

        var desiredPeers: [WireGuardDesiredPeer] = []
        var taken = Set<IPPrefix>()
        for n in Set(randomPeers(20)) {
            let mine = Set(prefixes()).subtracting(taken)
            taken.formUnion(mine)
            desiredPeers.append(WireGuardDesiredPeer(
                publicKey: Fixtures.key(n), endpoint: endpoints.randomElement(using: &random)!, allowedIPs: mine,
                persistentKeepalive: UInt16.random(in: 0...2, using: &random)))
        }
        let desired = WireGuardDesiredState(listenPort: UInt16.random(in: 1...3, using: &random), fwmark: 0, peers: desiredPeers)

        let device = InMemoryWireGuardDevice(interfaceName: "mesh0", initial: initial)
        let first = try device.reconcile(to: desired)
        let second = try device.reconcile(to: desired)
        #expect(second.isEmpty, "second plan: \(second)")
        let final = try device.read()
        #expect(Set(final.peers.keys) == Set(desired.peers.keys))
        for (key, want) in desired.peers {
            let have = try #require(final.peers[key])
            #expect(Set(have.allowedIPs) == want.allowedIPs)
            #expect(have.persistentKeepalive == want.persistentKeepalive)
            if let endpoint = want.endpoint { #expect(have.endpoint == endpoint) } else { #expect(have.endpoint == initial.peers[key]?.endpoint) }
        }
        _ = first
    }

    @Test("update-only: an update for a peer that vanished does not re-create it")
    func updateOnly() throws {
        let device = InMemoryWireGuardDevice(interfaceName: "mesh0")
        try device.apply(WireGuardChangeSet(peersToUpdate: [WireGuardPeerUpdate(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint)]))
        #expect(try device.read().peers.isEmpty)
    }
}

/// SplitMix64: reproducible randomness for property tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

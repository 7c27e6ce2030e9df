import MeshCore
import MeshCrypto

/// The trust material of a simulated network: an authority, and for every node an identity,
/// a certificate and a first record, plus the member table every node starts with (converged).
public struct Cluster: Sendable {
    public let settings: NetworkSettings
    public let authority: Ed25519PrivateKey
    public let identities: [Ed25519PrivateKey]
    public let certificates: [NodeCertificate]
    public let records: [NodeRecord]
    /// Every node, alive: the snapshot all nodes start from (shared storage).
    public let snapshot: MemberTable
    public let start: Timestamp

    /// The gossip endpoint of node `index`.
    public static func endpoint(of index: Int) -> SocketEndpoint {
        SocketEndpoint(address: .v4(IPv4Address(0x0A00_0000 + UInt32(index) + 1)), port: 51821)
    }

    /// The node at `endpoint`, if any.
    public static func index(of endpoint: SocketEndpoint) -> Int? {
        guard case let .v4(address) = endpoint.address, address.value > 0x0A00_0000 else { return nil }
        return Int(address.value - 0x0A00_0001)
    }

    /// Builds `count` nodes deterministically from `seed`; the keys and signatures are made on
    /// `threads` threads (the result does not depend on how many). Every `relayEvery`th node
    /// (0 first) has the relay role; `grants` adds route grants and roles to chosen nodes (gateways
    /// and exits).
    public init(
        count: Int, seed: UInt64, start: Timestamp = Timestamp(seconds: 1_800_000_000), threads: Int = 1, relayEvery: Int = 50,
        grants: [Int: (routes: [IPPrefix], roles: NodeRoles)] = [:]
    ) throws {
        var random = SeededRandomNumberGenerator(seed: seed ^ 0x5EED)
        func seedBytes() -> SecretBytes {
            var bytes = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: random.next()) { bytes += $0 } }
            return SecretBytes(copying: bytes)
        }
        let authority = try Ed25519PrivateKey(seed: seedBytes())
        self.authority = authority
        guard let prefix = IPPrefix("100.64.0.0/10") else { throw TrustError.invalidPrefix("simulation prefix") }
        let settings = try NetworkSettings(
            networkID: NetworkID(bytes: (0..<16).map { UInt8(truncatingIfNeeded: seed >> (8 * UInt64($0 % 8))) }) ?? .random(),
            name: "simulation", authority: authority, ipv4Prefix: prefix, ipv6Prefix: nil, gossipPort: 51821,
            wireGuardPort: 51820, createdAt: start.seconds)
        self.settings = settings
        self.start = start
        // Seeds in a fixed order, then the expensive part (key pairs, signatures) in parallel.
        let seeds = (0..<count).map { _ in (identity: seedBytes(), wireGuard: seedBytes()) }
        let nodes = try Simulation.parallelMap(0..<count, threads: threads) { index in
            let identity = try Ed25519PrivateKey(seed: seeds[index].identity)
            let wireGuard = try X25519PublicKey(bytes: seeds[index].wireGuard.withUnsafeBytes { Array($0) })
            let address = IPAddress.v4(IPv4Address(0x6440_0000 + UInt32(index) + 1))
            let certificate = try NodeCertificate(
                networkID: settings.networkID, serial: UInt64(index + 1), name: "node-\(index)", identityKey: identity.publicKey,
                wireGuardKey: wireGuard, addresses: [address], routes: grants[index]?.routes ?? [],
                roles: NodeRoles(index % max(1, relayEvery) == 0 ? [.relay] : []).union(grants[index]?.roles ?? []),
                notBefore: start.seconds - 3600, notAfter: start.seconds + 86400 * 30, issuer: authority)
            let record = try NodeRecord(
                nodeID: certificate.nodeID, version: 1, certificateDigest: certificate.digest, flags: [],
                gossipEndpoints: [AnnouncedEndpoint(.local, Self.endpoint(of: index))],
                wireGuardEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint(address: Self.endpoint(of: index).address, port: 51820))],
                announcedPrefixes: [IPPrefix(host: address)], relays: [], signedAt: start.seconds, signer: identity)
            return (identity, certificate, record)
        }
        var table = MemberTable()
        for (_, certificate, record) in nodes {
            table.put(Member(certificate: certificate, record: record, status: .alive, statusChangedAt: start))
        }
        identities = nodes.map(\.0)
        certificates = nodes.map(\.1)
        records = nodes.map(\.2)
        snapshot = table
    }

    /// What node `index` announces.
    public func announcement(of index: Int) -> LocalAnnouncement {
        LocalAnnouncement(
            gossipEndpoints: records[index].gossipEndpoints, wireGuardEndpoints: records[index].wireGuardEndpoints,
            prefixes: records[index].announcedPrefixes)
    }
}

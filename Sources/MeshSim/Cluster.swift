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

    /// Builds `count` nodes deterministically from `seed`.
    public init(count: Int, seed: UInt64, start: Timestamp = Timestamp(seconds: 1_800_000_000)) throws {
        var random = SeededRandomNumberGenerator(seed: seed ^ 0x5EED)
        func seedBytes() -> SecretBytes {
            var bytes = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: random.next()) { bytes += $0 } }
            return SecretBytes(copying: bytes)
        }
        authority = try Ed25519PrivateKey(seed: seedBytes())
        guard let prefix = IPPrefix("100.64.0.0/10") else { throw TrustError.invalidPrefix("simulation prefix") }
        settings = try NetworkSettings(
            networkID: NetworkID(bytes: (0..<16).map { UInt8(truncatingIfNeeded: seed >> (8 * UInt64($0 % 8))) }) ?? .random(),
            name: "simulation", authority: authority, ipv4Prefix: prefix, ipv6Prefix: nil, gossipPort: 51821,
            wireGuardPort: 51820, createdAt: start.seconds)
        self.start = start
        var identities: [Ed25519PrivateKey] = [], certificates: [NodeCertificate] = [], records: [NodeRecord] = []
        var table = MemberTable()
        for index in 0..<count {
            let identity = try Ed25519PrivateKey(seed: seedBytes())
            let wireGuard = try X25519PublicKey(bytes: seedBytes().withUnsafeBytes { Array($0) })
            let address = IPAddress.v4(IPv4Address(0x6440_0000 + UInt32(index) + 1))
            let certificate = try NodeCertificate(
                networkID: settings.networkID, serial: UInt64(index + 1), name: "node-\(index)", identityKey: identity.publicKey,
                wireGuardKey: wireGuard, addresses: [address], routes: [], roles: index % 50 == 0 ? [.relay] : [],
                notBefore: start.seconds - 3600, notAfter: start.seconds + 86400 * 30, issuer: authority)
            let record = try NodeRecord(
                nodeID: certificate.nodeID, version: 1, certificateDigest: certificate.digest, flags: [],
                gossipEndpoints: [AnnouncedEndpoint(.local, Self.endpoint(of: index))],
                wireGuardEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint(address: Self.endpoint(of: index).address, port: 51820))],
                announcedPrefixes: [IPPrefix(host: address)], relays: [], signedAt: start.seconds, signer: identity)
            table.put(Member(certificate: certificate, record: record, status: .alive, statusChangedAt: start))
            identities.append(identity)
            certificates.append(certificate)
            records.append(record)
        }
        self.identities = identities
        self.certificates = certificates
        self.records = records
        self.snapshot = table
    }

    /// What node `index` announces.
    public func announcement(of index: Int) -> LocalAnnouncement {
        LocalAnnouncement(
            gossipEndpoints: records[index].gossipEndpoints, wireGuardEndpoints: records[index].wireGuardEndpoints,
            prefixes: records[index].announcedPrefixes)
    }
}

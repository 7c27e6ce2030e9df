import MeshCrypto

/// The authority's statement about one node: its name, keys, overlay addresses, the prefixes it
/// may announce, its roles and a validity window.
///
/// Byte layout: see `docs/protocol.md` ("Certificate"). The signature covers the domain label and
/// every preceding byte.
public final class NodeCertificate: Hashable, Sendable, CustomStringConvertible {
    static let version: UInt8 = 1
    /// Most overlay addresses one certificate may carry.
    public static let maximumAddresses = 8
    /// Most routed prefixes one certificate may grant.
    public static let maximumRoutes = 32

    /// The network.
    public let networkID: NetworkID
    /// Unique number chosen by the issuer.
    public let serial: UInt64
    /// The node's name (a DNS label).
    public let name: String
    /// The node's Ed25519 identity key.
    public let identityKey: Ed25519PublicKey
    /// The node's WireGuard public key.
    public let wireGuardKey: X25519PublicKey
    /// Overlay addresses assigned to the node.
    public let addresses: [IPAddress]
    /// Prefixes beyond its addresses that the node may announce (subnets, exits).
    public let routes: [IPPrefix]
    /// Granted roles.
    public let roles: NodeRoles
    /// Start of validity (seconds since the epoch).
    public let notBefore: UInt64
    /// End of validity (seconds since the epoch).
    public let notAfter: UInt64
    /// The key that signed the certificate.
    public let issuerKey: Ed25519PublicKey
    /// The canonical encoding, signature included.
    public let encoded: [UInt8]

    /// The node's short ID, derived from its identity key (computed once, when decoded).
    public let nodeID: NodeID

    /// What a node may put in its announcements: each address as a host prefix, its link-local
    /// address as one, and the routes.
    public var grantedPrefixes: [IPPrefix] { ownedAddresses.map(IPPrefix.init(host:)) + routes }

    /// The node's IPv6 link-local address on the mesh interface: `fe80::/64` with the node ID as
    /// interface identifier (`fe80::a1b2:c3d4:e5f6:718` for node a1b2c3d4e5f60718). Stable for as
    /// long as the identity key, unique in the network (the authority never certifies two keys
    /// with one node ID), and known to every member without asking.
    public var linkLocalAddress: IPAddress { Self.linkLocalAddress(of: nodeID) }

    /// The link-local address of the node with ID `id` (see ``linkLocalAddress``).
    public static func linkLocalAddress(of id: NodeID) -> IPAddress {
        .v6(IPv6Address(high: 0xfe80_0000_0000_0000, low: id.value))
    }

    /// The addresses only this node may hold: its overlay addresses and its link-local address.
    public var ownedAddresses: [IPAddress] { addresses + [linkLocalAddress] }

    /// Whether `prefix` lies inside what the certificate grants.
    public func grants(_ prefix: IPPrefix) -> Bool {
        grantedPrefixes.contains { $0.contains(prefix) }
    }

    /// The prefixes the node may serve as a gateway: its routes, and with the exit role the
    /// default routes 0.0.0.0/0 and ::/0 (never announced as its own addresses).
    public var routeGrant: [IPPrefix] { roles.contains(.exit) ? routes + IPPrefix.defaultRoutes : routes }

    /// Whether the node may serve `prefix` as a gateway: inside one of its routes, or one of the
    /// default routes themselves with the exit role (an exit may not claim a more specific
    /// prefix: it would take that prefix from the gateway granted it).
    public func grantsRoute(_ prefix: IPPrefix) -> Bool {
        routes.contains { $0.contains(prefix) } || (prefix.isDefault && roles.contains(.exit))
    }

    /// Issues and signs a certificate.
    public convenience init(
        networkID: NetworkID, serial: UInt64, name: String, identityKey: Ed25519PublicKey, wireGuardKey: X25519PublicKey,
        addresses: [IPAddress], routes: [IPPrefix], roles: NodeRoles, notBefore: UInt64, notAfter: UInt64,
        issuer: Ed25519PrivateKey
    ) throws(TrustError) {
        if let problem = NodeName.problem(name) { throw .invalidName(problem) }
        guard !addresses.isEmpty, addresses.count <= Self.maximumAddresses else {
            throw .invalidPrefix("a certificate carries 1 to \(Self.maximumAddresses) addresses")
        }
        guard routes.count <= Self.maximumRoutes else { throw .invalidPrefix("a certificate grants at most \(Self.maximumRoutes) routes") }
        guard notBefore < notAfter else { throw .notYetValid }
        var writer = ByteWriter(capacity: 320)
        writer.write(Self.version)
        writer.write(networkID)
        writer.write(serial)
        writer.write(shortString: name)
        writer.write(raw: identityKey.bytes)
        writer.write(raw: wireGuardKey.bytes)
        writer.write(UInt8(addresses.count))
        for address in addresses { writer.write(address) }
        writer.write(UInt8(routes.count))
        for route in routes { writer.write(route) }
        writer.write(roles.rawValue)
        writer.write(notBefore)
        writer.write(notAfter)
        writer.write(raw: issuer.publicKey.bytes)
        try self.init(decoding: SignedEnvelope.seal(writer.bytes, domain: .certificate, with: issuer))
    }

    /// Decodes a certificate and checks its self-consistency and signature by the issuer key it
    /// names. Whether that issuer is this network's authority, the validity window and revocation
    /// are checked by ``CertificateValidator``.
    public init(decoding bytes: [UInt8]) throws(TrustError) {
        let fields: Fields
        do {
            fields = try Self.parse(bytes)
        } catch {
            throw .malformed(error)
        }
        guard fields.envelope.isSigned(by: fields.issuerKey) else {
            throw .badSignature("certificate")
        }
        networkID = fields.networkID
        serial = fields.serial
        name = fields.name
        identityKey = fields.identityKey
        wireGuardKey = fields.wireGuardKey
        addresses = fields.addresses
        routes = fields.routes
        roles = fields.roles
        notBefore = fields.notBefore
        notAfter = fields.notAfter
        issuerKey = fields.issuerKey
        encoded = bytes
        nodeID = NodeID(identityKey: identityKey)
        digest = Self.digest(of: bytes)
    }

    /// A certificate's fields, parsed but not yet verified.
    public struct Fields: Sendable {
        public let networkID: NetworkID
        public let serial: UInt64
        public let name: String
        public let identityKey: Ed25519PublicKey
        public let wireGuardKey: X25519PublicKey
        public let addresses: [IPAddress]
        public let routes: [IPPrefix]
        public let roles: NodeRoles
        public let notBefore: UInt64
        public let notAfter: UInt64
        public let issuerKey: Ed25519PublicKey
        let envelope: SignedEnvelope
    }

    /// Parses `bytes` without verifying the signature: for cheap checks (network, issuer,
    /// validity) before the costly verification. Nothing in it may be believed until
    /// ``init(decoding:)`` succeeds.
    public static func parse(_ bytes: [UInt8]) throws(WireError) -> Fields {
        let envelope = try SignedEnvelope(opening: bytes, domain: .certificate, what: "certificate")
        var reader = envelope.bodyReader(context: "certificate")
        let version = try reader.readUInt8()
        guard version == Self.version else { throw WireError.unsupportedVersion(what: "certificate", version: version) }
        let networkID = try reader.readNetworkID()
        let serial = try reader.readUInt64()
        let name = try reader.readShortString()
        let identityKey = try reader.readEd25519Key()
        let wireGuardKey = try reader.readX25519Key()
        let addresses = try reader.readList(limit: Self.maximumAddresses) { reader throws(WireError) in try reader.readAddress() }
        let routes = try reader.readList(limit: Self.maximumRoutes) { reader throws(WireError) in try reader.readPrefix() }
        let roles = NodeRoles(rawValue: try reader.readUInt8())
        guard NodeRoles.known.isSuperset(of: roles) else { throw WireError.invalidValue(what: "certificate roles") }
        let notBefore = try reader.readUInt64()
        let notAfter = try reader.readUInt64()
        let issuerKey = try reader.readEd25519Key()
        try reader.expectEnd()
        guard NodeName.problem(name) == nil, !addresses.isEmpty, notBefore < notAfter else {
            throw WireError.invalidValue(what: "certificate fields")
        }
        return Fields(
            networkID: networkID, serial: serial, name: name, identityKey: identityKey, wireGuardKey: wireGuardKey,
            addresses: addresses, routes: routes, roles: roles, notBefore: notBefore, notAfter: notAfter, issuerKey: issuerKey,
            envelope: envelope)
    }

    /// A short digest of the encoding, to refer to this exact certificate (computed once, when decoded).
    public let digest: UInt64

    private static func digest(of encoded: [UInt8]) -> UInt64 {
        let hash = (try? BLAKE2b.hash(encoded, outputByteCount: 16)) ?? []
        return hash.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var description: String { "certificate \(name) (\(nodeID), \(addresses.map(\.description).joined(separator: ", ")))" }

    public static func == (lhs: NodeCertificate, rhs: NodeCertificate) -> Bool { lhs.encoded == rhs.encoded }
    public func hash(into hasher: inout Hasher) { hasher.combine(encoded) }
}

import MeshCrypto

/// What a node says about itself, signed by its own identity key and versioned: its endpoints,
/// the prefixes it announces, whether it relays, which relays it reaches. The newest valid
/// version wins everywhere; a record with ``Flags/left`` is the node's tombstone.
///
/// Byte layout: see `docs/protocol.md` ("Node record").
public final class NodeRecord: Hashable, Sendable, CustomStringConvertible {
    /// Version 2 added the served routes; version 1 records (held in members' snapshots) still
    /// decode, serving none.
    static let formatVersion: UInt8 = 2
    static let formatVersionWithoutRoutes: UInt8 = 1
    /// Most endpoints of each kind of service a record may carry.
    public static let maximumEndpoints = 8
    /// Most prefixes a record may announce.
    public static let maximumPrefixes = 40
    /// Most relays a record may list.
    public static let maximumRelays = 8

    /// Record flags.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The node left the network: a signed tombstone.
        public static let left = Flags(rawValue: 1 << 0)
        /// The node offers to relay (honoured only with the relay role).
        public static let relay = Flags(rawValue: 1 << 1)
        /// The node believes it is behind NAT (peers keep its mapping open with keepalives).
        public static let behindNAT = Flags(rawValue: 1 << 2)
        static let known: Flags = [.left, .relay, .behindNAT]
    }

    /// The node.
    public let nodeID: NodeID
    /// Version: higher wins. Doubles as SWIM's incarnation number.
    public let version: UInt64
    /// Digest of the certificate this record is made under.
    public let certificateDigest: UInt64
    /// Flags.
    public let flags: Flags
    /// Where the node's gossip channel can be reached.
    public let gossipEndpoints: [AnnouncedEndpoint]
    /// Where the node's WireGuard interface can be reached.
    public let wireGuardEndpoints: [AnnouncedEndpoint]
    /// Prefixes the node routes into the mesh now (its addresses, plus granted routes it serves).
    public let announcedPrefixes: [IPPrefix]
    /// Relays the node reaches directly.
    public let relays: [RelayReachability]
    /// Granted routes the node serves as a gateway right now, with their priorities.
    public let servedRoutes: [ServedRoute]
    /// When the node signed this version (seconds since the epoch).
    public let signedAt: UInt64
    /// The canonical encoding, signature included.
    public let encoded: [UInt8]

    /// Whether this is a tombstone.
    public var isTombstone: Bool { flags.contains(.left) }

    /// Creates and signs a record.
    public convenience init(
        nodeID: NodeID, version: UInt64, certificateDigest: UInt64, flags: Flags,
        gossipEndpoints: [AnnouncedEndpoint], wireGuardEndpoints: [AnnouncedEndpoint],
        announcedPrefixes: [IPPrefix], relays: [RelayReachability], servedRoutes: [ServedRoute] = [], signedAt: UInt64,
        signer: Ed25519PrivateKey
    ) throws(TrustError) {
        guard gossipEndpoints.count <= Self.maximumEndpoints, wireGuardEndpoints.count <= Self.maximumEndpoints,
              announcedPrefixes.count <= Self.maximumPrefixes, relays.count <= Self.maximumRelays,
              servedRoutes.count <= Self.maximumPrefixes
        else { throw .malformed(.invalidValue(what: "node record lists")) }
        var writer = ByteWriter(capacity: 256)
        writer.write(Self.formatVersion)
        writer.write(nodeID)
        writer.write(version)
        writer.write(certificateDigest)
        writer.write(flags.rawValue)
        for list in [gossipEndpoints, wireGuardEndpoints] {
            writer.write(UInt8(list.count))
            for item in list {
                writer.write(item.kind.rawValue)
                writer.write(item.endpoint)
            }
        }
        writer.write(UInt8(announcedPrefixes.count))
        for prefix in announcedPrefixes { writer.write(prefix) }
        writer.write(UInt8(relays.count))
        for relay in relays {
            writer.write(relay.relay)
            writer.write(relay.rttMilliseconds)
        }
        writer.write(UInt8(servedRoutes.count))
        for route in servedRoutes {
            writer.write(route.prefix)
            writer.write(route.priority)
        }
        writer.write(signedAt)
        try self.init(decoding: SignedEnvelope.seal(writer.bytes, domain: .nodeRecord, with: signer))
    }

    /// Decodes a record without checking its signature (the signer's key comes from the
    /// certificate; see ``verify(with:)``).
    public init(decoding bytes: [UInt8]) throws(TrustError) {
        do {
            var reader = try SignedEnvelope(opening: bytes, domain: .nodeRecord, what: "node record").bodyReader(context: "node record")
            let version = try reader.readUInt8()
            guard version == Self.formatVersion || version == Self.formatVersionWithoutRoutes else {
                throw WireError.unsupportedVersion(what: "node record", version: version)
            }
            nodeID = try reader.readNodeID()
            self.version = try reader.readUInt64()
            certificateDigest = try reader.readUInt64()
            let flagBits = Flags(rawValue: try reader.readUInt8())
            guard Flags.known.isSuperset(of: flagBits) else { throw WireError.invalidValue(what: "node record flags") }
            flags = flagBits
            var lists: [[AnnouncedEndpoint]] = []
            for _ in 0..<2 {
                lists.append(try reader.readList(limit: Self.maximumEndpoints) { reader throws(WireError) in
                    guard let kind = EndpointKind(rawValue: try reader.readUInt8()) else {
                        throw .invalidValue(what: "node record endpoint kind")
                    }
                    return AnnouncedEndpoint(kind, try reader.readEndpoint())
                })
            }
            gossipEndpoints = lists[0]
            wireGuardEndpoints = lists[1]
            announcedPrefixes = try reader.readList(limit: Self.maximumPrefixes) { reader throws(WireError) in try reader.readPrefix() }
            relays = try reader.readList(limit: Self.maximumRelays) { reader throws(WireError) in
                RelayReachability(relay: try reader.readNodeID(), rttMilliseconds: try reader.readUInt16())
            }
            if version == Self.formatVersion {
                servedRoutes = try reader.readList(limit: Self.maximumPrefixes) { reader throws(WireError) in
                    ServedRoute(prefix: try reader.readPrefix(), priority: try reader.readUInt8())
                }
            } else {
                servedRoutes = []
            }
            signedAt = try reader.readUInt64()
            try reader.expectEnd()
        } catch let error as WireError {
            throw .malformed(error)
        } catch {
            throw .malformed(.invalidValue(what: "node record"))
        }
        encoded = bytes
    }

    /// Whether the signature is valid under `identityKey`.
    public func verify(with identityKey: Ed25519PublicKey) -> Bool {
        guard let envelope = try? SignedEnvelope(opening: encoded, domain: .nodeRecord, what: "node record") else { return false }
        return envelope.isSigned(by: identityKey)
    }

    /// Checks the record against the certificate it claims: same node, same certificate, valid
    /// signature, only granted prefixes announced, and only granted routes served (never one of
    /// its overlay addresses as a route: those are its own, not a gateway's).
    public func validate(against certificate: NodeCertificate) throws(TrustError) {
        guard nodeID == certificate.nodeID, certificateDigest == certificate.digest else { throw .identityMismatch }
        if let outside = announcedPrefixes.first(where: { !certificate.grants($0) }) {
            throw .outsideGrant("\(outside)")
        }
        if let outside = servedRoutes.first(where: { !certificate.grantsRoute($0.prefix) }) {
            throw .outsideGrant("\(outside.prefix)")
        }
        guard verify(with: certificate.identityKey) else { throw .badSignature("node record") }
    }

    public var description: String { "record \(nodeID) v\(version)\(isTombstone ? " (left)" : "")" }

    public static func == (lhs: NodeRecord, rhs: NodeRecord) -> Bool { lhs.encoded == rhs.encoded }
    public func hash(into hasher: inout Hasher) { hasher.combine(encoded) }
}

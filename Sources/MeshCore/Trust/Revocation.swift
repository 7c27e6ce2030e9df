import MeshCrypto

/// The authority's statement that a node's identity key is no longer a member. It spreads by
/// gossip; every node then refuses the node's records and datagrams and drops its peers.
public struct Revocation: Hashable, Sendable {
    static let version: UInt8 = 1

    /// The network.
    public let networkID: NetworkID
    /// The revoked identity key (every certificate for it is void).
    public let identityKey: Ed25519PublicKey
    /// The node's name at revocation, for operators.
    public let name: String
    /// When it was revoked (seconds since the epoch).
    public let revokedAt: UInt64
    /// Until when the revocation must be kept: the latest expiry of the revoked certificates.
    /// After that no certificate for the key is valid anyway, so the entry can be dropped.
    public let keepUntil: UInt64
    /// The signer.
    public let issuerKey: Ed25519PublicKey
    /// The canonical encoding, signature included.
    public let encoded: [UInt8]

    /// The revoked node's ID.
    public var nodeID: NodeID { NodeID(identityKey: identityKey) }

    /// Creates and signs a revocation.
    public init(
        networkID: NetworkID, identityKey: Ed25519PublicKey, name: String, revokedAt: UInt64, keepUntil: UInt64,
        issuer: Ed25519PrivateKey
    ) throws(TrustError) {
        var writer = ByteWriter(capacity: 200)
        writer.write(Self.version)
        writer.write(networkID)
        writer.write(raw: identityKey.bytes)
        writer.write(shortString: name)
        writer.write(revokedAt)
        writer.write(keepUntil)
        writer.write(raw: issuer.publicKey.bytes)
        try self.init(decoding: SignedEnvelope.seal(writer.bytes, domain: .revocation, with: issuer))
    }

    /// Decodes a revocation and verifies the signature of the issuer it names.
    public init(decoding bytes: [UInt8]) throws(TrustError) {
        do {
            let envelope = try SignedEnvelope(opening: bytes, domain: .revocation, what: "revocation")
            var reader = envelope.bodyReader(context: "revocation")
            let version = try reader.readUInt8()
            guard version == Self.version else { throw WireError.unsupportedVersion(what: "revocation", version: version) }
            networkID = try reader.readNetworkID()
            identityKey = try reader.readEd25519Key()
            name = try reader.readShortString()
            revokedAt = try reader.readUInt64()
            keepUntil = try reader.readUInt64()
            issuerKey = try reader.readEd25519Key()
            try reader.expectEnd()
            guard envelope.isSigned(by: issuerKey) else {
                throw TrustError.badSignature("revocation")
            }
        } catch let error as TrustError {
            throw error
        } catch let error as WireError {
            throw .malformed(error)
        } catch {
            throw .malformed(.invalidValue(what: "revocation"))
        }
        encoded = bytes
    }
}

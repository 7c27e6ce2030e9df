import MeshCrypto

/// The network's identity and defaults, signed by the authority. A joining node receives it and
/// from then on accepts only certificates, revocations and datagrams bound to this network.
public struct NetworkSettings: Equatable, Sendable {
    static let version: UInt8 = 1

    /// The network's random identifier.
    public let networkID: NetworkID
    /// The operator's name for the network.
    public let name: String
    /// The authority's Ed25519 key: the root of trust.
    public let authorityKey: Ed25519PublicKey
    /// IPv4 overlay prefix; node addresses are allocated from it.
    public let ipv4Prefix: IPPrefix
    /// Optional IPv6 overlay prefix.
    public let ipv6Prefix: IPPrefix?
    /// Default UDP port of the gossip channel.
    public let gossipPort: UInt16
    /// Default WireGuard listen port.
    public let wireGuardPort: UInt16
    /// When the network was created (seconds since the epoch).
    public let createdAt: UInt64
    /// The canonical encoding, signature included.
    public let encoded: [UInt8]

    /// Creates and signs settings for a new network.
    public init(
        networkID: NetworkID, name: String, authority: Ed25519PrivateKey, ipv4Prefix: IPPrefix, ipv6Prefix: IPPrefix?,
        gossipPort: UInt16, wireGuardPort: UInt16, createdAt: UInt64
    ) throws(TrustError) {
        if let problem = NodeName.problem(name) { throw .invalidName(problem) }
        guard ipv4Prefix.address.isIPv4, ipv4Prefix.length <= 30 else { throw .invalidPrefix("the IPv4 overlay prefix must be IPv4 and /30 or larger") }
        if let ipv6Prefix, ipv6Prefix.address.isIPv4 || ipv6Prefix.length > 126 {
            throw .invalidPrefix("the IPv6 overlay prefix must be IPv6 and /126 or larger")
        }
        var writer = ByteWriter(capacity: 200)
        writer.write(Self.version)
        writer.write(networkID)
        writer.write(shortString: name)
        writer.write(raw: authority.publicKey.bytes)
        writer.write(ipv4Prefix)
        if let ipv6Prefix {
            writer.write(UInt8(1))
            writer.write(ipv6Prefix)
        } else {
            writer.write(UInt8(0))
        }
        writer.write(gossipPort)
        writer.write(wireGuardPort)
        writer.write(createdAt)
        try self.init(decoding: SignedEnvelope.seal(writer.bytes, domain: .networkSettings, with: authority))
    }

    /// Decodes settings and verifies the authority's signature.
    public init(decoding bytes: [UInt8]) throws(TrustError) {
        do {
            let envelope = try SignedEnvelope(opening: bytes, domain: .networkSettings, what: "network settings")
            var reader = envelope.bodyReader(context: "network settings")
            let version = try reader.readUInt8()
            guard version == Self.version else { throw WireError.unsupportedVersion(what: "network settings", version: version) }
            networkID = try reader.readNetworkID()
            name = try reader.readShortString()
            authorityKey = try reader.readEd25519Key()
            ipv4Prefix = try reader.readPrefix()
            switch try reader.readUInt8() {
            case 0: ipv6Prefix = nil
            case 1: ipv6Prefix = try reader.readPrefix()
            default: throw WireError.invalidValue(what: "network settings IPv6 flag")
            }
            gossipPort = try reader.readUInt16()
            wireGuardPort = try reader.readUInt16()
            createdAt = try reader.readUInt64()
            try reader.expectEnd()
            guard envelope.isSigned(by: authorityKey) else {
                throw TrustError.badSignature("network settings")
            }
        } catch let error as TrustError {
            throw error
        } catch let error as WireError {
            throw .malformed(error)
        } catch {
            throw .malformed(.invalidValue(what: "network settings"))
        }
        guard ipv4Prefix.address.isIPv4, ipv6Prefix?.address.isIPv4 != true, NodeName.problem(name) == nil, gossipPort != 0, wireGuardPort != 0 else {
            throw .malformed(.invalidValue(what: "network settings"))
        }
        encoded = bytes
    }

    /// The overlay prefix of the address's family.
    public func overlayPrefix(for address: IPAddress) -> IPPrefix? {
        address.isIPv4 ? ipv4Prefix : ipv6Prefix
    }
}

import MeshCrypto

/// The one-time string `meshctl invite` prints and `meshctl join` consumes.
///
/// Text form: `mw1-` followed by base64url (no padding) of the payload and a 4-byte BLAKE2b
/// checksum of it, so a mistyped or truncated token is caught before any network traffic.
/// The secret is single-use: the bootstrap node accepts one enrollment per token.
public struct InvitationToken: Equatable, Sendable {
    /// Text prefix; the digit is the format version.
    public static let prefix = "mw1-"
    static let version: UInt8 = 1
    static let checksumLength = 4
    /// Length of the one-time secret.
    public static let secretLength = 32

    /// The network to join.
    public let networkID: NetworkID
    /// The network's name.
    public let networkName: String
    /// The network's authority key: the joiner trusts only what chains to it.
    public let authorityKey: Ed25519PublicKey
    /// Identity key of the bootstrap node that will enroll the joiner; the join request is
    /// encrypted to it and its reply must come from it.
    public let bootstrapKey: Ed25519PublicKey
    /// Where to reach the bootstrap node's gossip channel.
    public let bootstrapEndpoints: [SocketEndpoint]
    /// The one-time secret.
    public let secret: [UInt8]
    /// Expiry (seconds since the epoch).
    public let expiresAt: UInt64
    /// The name reserved for the joining node.
    public let nodeName: String

    public init(
        networkID: NetworkID, networkName: String, authorityKey: Ed25519PublicKey, bootstrapKey: Ed25519PublicKey,
        bootstrapEndpoints: [SocketEndpoint], secret: [UInt8], expiresAt: UInt64, nodeName: String
    ) throws(TrustError) {
        guard secret.count == Self.secretLength else { throw .invalidToken("the token secret must be \(Self.secretLength) bytes") }
        guard (1...8).contains(bootstrapEndpoints.count) else { throw .invalidToken("a token names 1 to 8 bootstrap endpoints") }
        if let problem = NodeName.problem(nodeName) { throw .invalidName(problem) }
        self.networkID = networkID
        self.networkName = networkName
        self.authorityKey = authorityKey
        self.bootstrapKey = bootstrapKey
        self.bootstrapEndpoints = bootstrapEndpoints
        self.secret = secret
        self.expiresAt = expiresAt
        self.nodeName = nodeName
    }

    /// The identifier of this invitation, derived from the secret. It travels in clear in the
    /// join request so the bootstrap node can refuse unknown or used tokens before doing any
    /// public-key work; it reveals nothing about the secret.
    public var invitationID: [UInt8] { Self.invitationID(secret: secret) }

    static func invitationID(secret: [UInt8]) -> [UInt8] {
        (try? BLAKE2b.hash(Array("meshwork/v1/invitation-id".utf8), publicKey: secret, outputByteCount: 16)) ?? []
    }

    /// The token as text.
    public var text: String {
        var writer = ByteWriter(capacity: 256)
        writer.write(Self.version)
        writer.write(networkID)
        writer.write(shortString: networkName)
        writer.write(raw: authorityKey.bytes)
        writer.write(raw: bootstrapKey.bytes)
        writer.write(UInt8(bootstrapEndpoints.count))
        for endpoint in bootstrapEndpoints { writer.write(endpoint) }
        writer.write(raw: secret)
        writer.write(expiresAt)
        writer.write(shortString: nodeName)
        let payload = writer.bytes
        return Self.prefix + Base64.encode(payload + Self.checksum(payload), variant: .urlSafeUnpadded)
    }

    /// Parses a token, with a message for each way pasting can go wrong.
    public init(text rawText: String) throws(TrustError) {
        let text = String(rawText.filter { !$0.isWhitespace })
        guard text.hasPrefix(Self.prefix) else {
            if text.hasPrefix("mw"), text.contains("-") {
                throw .invalidToken("this token is from a newer or older Meshwork (prefix \(text.prefix(while: { $0 != "-" }))-); expected \(Self.prefix)")
            }
            throw .invalidToken("this is not a Meshwork invitation token (it should start with \(Self.prefix))")
        }
        let body = String(text.dropFirst(Self.prefix.count))
        guard body.unicodeScalars.allSatisfy({ Self.alphabet.contains($0) }) else {
            throw .invalidToken("the token is damaged: it contains characters that cannot be part of a token; copy it again")
        }
        // Right characters that do not decode: a length or a last character no whole token has.
        guard let raw = Base64.decode(body, variant: .urlSafeUnpadded), raw.count > Self.checksumLength else {
            throw .invalidToken("the token is incomplete: it was cut off or mistyped; copy it again")
        }
        let payload = Array(raw.dropLast(Self.checksumLength))
        guard ConstantTime.equals(Self.checksum(payload), raw.suffix(Self.checksumLength)) else {
            throw .invalidToken("the token's checksum does not match: it was mistyped or cut off; copy it again")
        }
        var reader = ByteReader(payload, context: "invitation token")
        do {
            let version = try reader.readUInt8()
            guard version == Self.version else { throw WireError.unsupportedVersion(what: "invitation token", version: version) }
            let networkID = try reader.readNetworkID()
            let networkName = try reader.readShortString()
            let authorityKey = try reader.readEd25519Key()
            let bootstrapKey = try reader.readEd25519Key()
            let endpoints = try reader.readList(limit: 8) { reader throws(WireError) in try reader.readEndpoint() }
            let secret = try reader.readArray(Self.secretLength)
            let expiresAt = try reader.readUInt64()
            let nodeName = try reader.readShortString()
            try reader.expectEnd()
            try self.init(
                networkID: networkID, networkName: networkName, authorityKey: authorityKey, bootstrapKey: bootstrapKey,
                bootstrapEndpoints: endpoints, secret: secret, expiresAt: expiresAt, nodeName: nodeName)
        } catch let error as TrustError {
            throw error
        } catch {
            throw .invalidToken("the token is damaged (\(error)); copy it again")
        }
    }

    /// The characters of the token's base64url body.
    static let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".unicodeScalars)

    static func checksum(_ payload: [UInt8]) -> [UInt8] {
        Array(((try? BLAKE2b.hash(payload, outputByteCount: 16)) ?? []).prefix(checksumLength))
    }
}

import MeshCrypto

/// The joining side of enrollment (sans-I/O): builds the encrypted join request for every
/// bootstrap endpoint of the token, resends it until answered, and checks the answer.
public struct JoinClient: Sendable {
    /// The outcome of enrollment.
    public enum Outcome: Equatable, Sendable {
        /// Enrolled: the network's settings and this node's certificate.
        case enrolled(NetworkSettings, NodeCertificate)
        /// The bootstrap node refused, with the reason to show.
        case refused(String)
    }

    /// The token being used.
    public let token: InvitationToken
    private var request: [UInt8]
    /// Response keys of the latest requests (an answer to an earlier one may still arrive).
    private var responseKeys: [SymmetricKey]
    private let identity: Ed25519PrivateKey
    private let identityKey: Ed25519PublicKey
    private let wireGuardKey: X25519PublicKey
    private let bootstrapStatic: [UInt8]
    private let agreement: any KeyAgreement
    private var lastTimestamp: UInt64
    /// Response keys kept for late answers.
    static let keptResponseKeys = 8
    /// Bootstrap endpoints that answered "unknown invitation".
    public private(set) var unknownAt: Set<SocketEndpoint> = []

    /// Prepares enrollment. Fails at once for an expired token.
    public init(
        token: InvitationToken, identity: Ed25519PrivateKey, wireGuardKey: X25519PublicKey, now: Timestamp,
        agreement: any KeyAgreement = X25519KeyAgreement(), random: inout RandomSource
    ) throws(TrustError) {
        guard token.expiresAt >= now.seconds else {
            throw .invalidToken("the token expired \(Self.age(now.seconds - token.expiresAt)) ago; ask for a new one with `meshctl invite`")
        }
        let bootstrapStatic: [UInt8]
        do { bootstrapStatic = try agreement.staticPublicKey(for: token.bootstrapKey) } catch {
            throw .invalidToken("the token's bootstrap key is not usable")
        }
        guard let (request, responseKey) = Self.build(
            token: token, identity: identity, wireGuardKey: wireGuardKey, bootstrapStatic: bootstrapStatic, agreement: agreement,
            timestamp: now.nanoseconds, random: &random)
        else { throw .invalidToken("the token's bootstrap key is not usable") }
        self.token = token
        self.request = request
        self.responseKeys = [responseKey]
        self.identity = identity
        self.identityKey = identity.publicKey
        self.wireGuardKey = wireGuardKey
        self.bootstrapStatic = bootstrapStatic
        self.agreement = agreement
        self.lastTimestamp = now.nanoseconds
    }

    /// A new request (new ephemeral key, newer timestamp) to resend after no answer came: the
    /// bootstrap node answers a retry from the same identity with the same certificate, and
    /// refuses a byte-identical replay.
    public mutating func retryDatagrams(now: Timestamp, random: inout RandomSource) -> [OutboundDatagram] {
        let timestamp = max(now.nanoseconds, lastTimestamp &+ 1)
        guard let (request, responseKey) = Self.build(
            token: token, identity: identity, wireGuardKey: wireGuardKey, bootstrapStatic: bootstrapStatic, agreement: agreement,
            timestamp: timestamp, random: &random)
        else { return [] }
        lastTimestamp = timestamp
        self.request = request
        responseKeys = [responseKey] + responseKeys.prefix(Self.keptResponseKeys - 1)
        return requestDatagrams
    }

    /// Builds one request and the key of its response.
    private static func build(
        token: InvitationToken, identity: Ed25519PrivateKey, wireGuardKey: X25519PublicKey, bootstrapStatic: [UInt8],
        agreement: any KeyAgreement, timestamp: UInt64, random: inout RandomSource
    ) -> (request: [UInt8], responseKey: SymmetricKey)? {
        let (ephemeralSecret, ephemeralPublic) = agreement.ephemeralKeyPair(using: &random)
        guard let shared = try? agreement.agree(ephemeralSecret, bootstrapStatic) else { return nil }
        let invitationID = token.invitationID
        let keys = JoinMessages.keys(ephemeralStaticSecret: shared, ephemeralPublic: ephemeralPublic, invitationID: invitationID, networkID: token.networkID)
        var body = ByteWriter()
        body.write(raw: identity.publicKey.bytes)
        body.write(raw: wireGuardKey.bytes)
        body.write(timestamp)
        body.write(raw: JoinMessages.proof(
            secret: token.secret, invitationID: invitationID, ephemeralPublic: ephemeralPublic,
            identityKey: identity.publicKey.bytes, wireGuardKey: wireGuardKey.bytes, timestamp: timestamp))
        body.write(raw: identity.signature(for: JoinMessages.possessionMessage(
            invitationID: invitationID, ephemeralPublic: ephemeralPublic, wireGuardKey: wireGuardKey.bytes, timestamp: timestamp)))
        let header = JoinMessages.header(.joinRequest, invitationID: invitationID) + ephemeralPublic
        guard let sealed = try? XChaCha20Poly1305.seal(body.bytes, key: keys.request, nonce: SecureChannel.nonce(0), authenticating: header) else {
            return nil
        }
        return (header + sealed, keys.response)
    }

    /// The current request, once per bootstrap endpoint (for retries use
    /// ``retryDatagrams(now:random:)``: the same bytes again are refused as a replay).
    public var requestDatagrams: [OutboundDatagram] {
        token.bootstrapEndpoints.map { OutboundDatagram(bytes: request, endpoint: $0) }
    }

    /// Handles a datagram from a bootstrap endpoint; returns the outcome once there is one.
    public mutating func receive(_ datagram: [UInt8], from endpoint: SocketEndpoint) -> Outcome? {
        guard datagram.count >= JoinMessages.responseHeaderLength, datagram[0] == PacketType.protocolVersion,
              Array(datagram[2..<18]) == token.invitationID
        else { return nil }
        if datagram[1] == PacketType.joinUnknownInvitation.rawValue {
            unknownAt.insert(endpoint)
            guard unknownAt.isSuperset(of: token.bootstrapEndpoints) else { return nil }
            return .refused("the bootstrap node does not know this token: it was issued by another network or node, or it was cleaned up after expiring")
        }
        guard datagram[1] == PacketType.joinResponse.rawValue,
              let body = responseKeys.lazy.compactMap({ key in
                  try? XChaCha20Poly1305.open(
                    datagram[JoinMessages.responseHeaderLength...], key: key, nonce: SecureChannel.nonce(0),
                    authenticating: datagram[..<JoinMessages.responseHeaderLength])
              }).first,
              let code = body.first, let status = JoinMessages.Status(rawValue: code)
        else { return nil }
        switch status {
        case .alreadyUsed: return .refused("this token was already used to enroll another host; ask for a new one with `meshctl invite`")
        case .expired: return .refused("the token has expired; ask for a new one with `meshctl invite`")
        case .conflict: return .refused("the bootstrap node could not issue a certificate for this host (identity conflict)")
        case .enrolled: break
        }
        var reader = ByteReader(Array(body.dropFirst()), context: "join response")
        guard let settingsBytes = try? reader.readLongBytes(), let certificateBytes = try? reader.readLongBytes(), reader.isAtEnd,
              let settings = try? NetworkSettings(decoding: Array(settingsBytes)),
              let certificate = try? NodeCertificate(decoding: Array(certificateBytes))
        else { return .refused("the bootstrap node sent an answer that does not parse") }
        guard settings.networkID == token.networkID, settings.authorityKey == token.authorityKey else {
            return .refused("the bootstrap node answered for another network than the token names")
        }
        guard certificate.networkID == settings.networkID, certificate.issuerKey == settings.authorityKey,
              certificate.identityKey == identityKey, certificate.wireGuardKey == wireGuardKey, certificate.name == token.nodeName
        else { return .refused("the certificate from the bootstrap node does not match this host's keys or the invited name") }
        return .enrolled(settings, certificate)
    }

    static func age(_ seconds: UInt64) -> String {
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86400) days"
    }
}

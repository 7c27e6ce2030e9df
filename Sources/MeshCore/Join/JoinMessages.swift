import MeshCrypto

/// The enrollment exchange (see `docs/protocol.md`, "Join"). The joiner encrypts its request to
/// the bootstrap node's static key with an ephemeral key; only the bootstrap node can read it,
/// and only the joiner can read the answer. The clear-text invitation ID lets the bootstrap node
/// refuse unknown tokens before any public-key operation.
enum JoinMessages {
    static let requestHeaderLength = 2 + 16 + 32
    static let responseHeaderLength = 2 + 16
    /// How far a join request's timestamp may be from the authority's clock. A joiner is a new
    /// host whose clock may be less exact than members' (whose window is 300 s); older requests
    /// are refused without any state, and newer ones must beat the last one per invitation.
    static let freshnessWindow: UInt64 = 600 * 1_000_000_000

    /// Whether a request timestamp (nanoseconds) is within the freshness window of `now`.
    static func isFresh(_ timestamp: UInt64, now: Timestamp) -> Bool {
        let low = now.nanoseconds >= freshnessWindow ? now.nanoseconds - freshnessWindow : 0
        let (high, overflow) = now.nanoseconds.addingReportingOverflow(freshnessWindow)
        return timestamp >= low && (overflow || timestamp <= high)
    }

    /// Outcome codes in a join response.
    enum Status: UInt8 {
        case enrolled = 0
        case alreadyUsed = 1
        case expired = 2
        case conflict = 3
    }

    /// Keys for one exchange, from the ephemeral-static secret.
    static func keys(ephemeralStaticSecret: SecretBytes, ephemeralPublic: [UInt8], invitationID: [UInt8], networkID: NetworkID)
        -> (request: SymmetricKey, response: SymmetricKey) {
        let initial = KeyDerivation.initialChainingKey(label: "meshwork/v1/join", networkID: networkID)
        let (chaining, requestKey) = KeyDerivation.mix(initial, secret: ephemeralStaticSecret, ephemeralPublic + invitationID)
        let (_, responseKey) = KeyDerivation.mix(chaining, Array("response".utf8))
        return (requestKey, responseKey)
    }

    /// The joiner's proof that it holds the token secret, bound to this exact request.
    static func proof(secret: [UInt8], invitationID: [UInt8], ephemeralPublic: [UInt8], identityKey: [UInt8], wireGuardKey: [UInt8], timestamp: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(raw: Array("meshwork/v1/join-proof".utf8))
        writer.write(raw: invitationID)
        writer.write(raw: ephemeralPublic)
        writer.write(raw: identityKey)
        writer.write(raw: wireGuardKey)
        writer.write(timestamp)
        return (try? BLAKE2b.hash(writer.bytes, key: SecretBytes(copying: secret))) ?? []
    }

    /// What the joiner signs with its identity key (proof of possession).
    static func possessionMessage(invitationID: [UInt8], ephemeralPublic: [UInt8], wireGuardKey: [UInt8], timestamp: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(raw: Array("meshwork/v1/join-request".utf8))
        writer.write(raw: invitationID)
        writer.write(raw: ephemeralPublic)
        writer.write(raw: wireGuardKey)
        writer.write(timestamp)
        return writer.bytes
    }

    static func header(_ type: PacketType, invitationID: [UInt8]) -> [UInt8] {
        [PacketType.protocolVersion, type.rawValue] + invitationID
    }
}

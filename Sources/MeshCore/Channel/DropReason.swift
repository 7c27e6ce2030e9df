/// Why a datagram or message was discarded. Every discard is counted under one of these names,
/// which `meshctl status` shows.
public enum DropReason: String, Hashable, Sendable, CaseIterable, Comparable {
    /// Too short, or fields that do not parse.
    case malformed
    /// Protocol version this node does not speak.
    case unsupportedVersion = "unsupported-version"
    /// Unknown packet type.
    case unknownType = "unknown-type"
    /// Larger than the channel allows.
    case oversized
    /// Handshake from a node ID that is not a member.
    case unknownSender = "unknown-sender"
    /// Handshake addressed to another node ID.
    case notForUs = "not-for-us"
    /// Datagram from a revoked node.
    case revokedSender = "revoked-sender"
    /// Authentication tag did not verify.
    case authenticationFailed = "authentication-failed"
    /// Handshake with a timestamp not newer than the last one from that sender.
    case replayedHandshake = "replayed-handshake"
    /// Transport datagram for a session index this node does not have.
    case unknownSession = "unknown-session"
    /// Transport counter already seen or too old.
    case replayed
    /// Certificate presented in a handshake was refused.
    case certificateRejected = "certificate-rejected"
    /// Too many expensive operations from unknown parties.
    case rateLimited = "rate-limited"
    /// A message inside an authenticated datagram did not parse.
    case invalidMessage = "invalid-message"
    /// A record with a bad signature, or not matching its certificate.
    case invalidRecord = "invalid-record"
    /// A record announcing prefixes outside its certificate's grant.
    case outsideGrant = "outside-grant"
    /// A certificate from another network or authority.
    case foreignCertificate = "foreign-certificate"
    /// An expired or not yet valid certificate.
    case expiredCertificate = "expired-certificate"
    /// A record or certificate of a revoked node.
    case revokedRecord = "revoked-record"
    /// A revocation not signed by this network's authority.
    case invalidRevocation = "invalid-revocation"
    /// A join request for an invitation this node does not hold.
    case joinUnknownInvitation = "join-unknown-invitation"
    /// A join request whose proof of the invitation secret failed.
    case joinBadProof = "join-bad-proof"
    /// A join request for an expired invitation.
    case joinExpired = "join-expired"
    /// A join request for an invitation already used by another node.
    case joinUsed = "join-used"
    /// A join answer that does not match a pending enrollment.
    case unexpectedJoinResponse = "unexpected-join-response"
    /// Relay traffic from a source without a valid allocation.
    case relayUnauthorized = "relay-unauthorized"

    // Refusals of what a member may not do (issue 10): the agent's.
    /// A relay grant that is not believed: the sender lacks the relay role or flag, answers no
    /// request of ours (or with the wrong id), names this node or a non-member, or hints a relay
    /// for a peer whose direct path works.
    case forgedRelayGrant = "forged-relay-grant"
    /// A relay refusal or path acknowledgement that answers nothing this node asked that sender.
    case unexpectedPathMessage = "unexpected-path-message"
    /// A relay request refused: a pair with itself, a non-member, or over the per-member pair cap.
    case relayPairRefused = "relay-pair-refused"
    /// An announced prefix covering another member's overlay address (not installed).
    case overlapsMember = "overlaps-member"
    /// An endpoint report that does not parse or names an unusable endpoint.
    case invalidEndpointReport = "invalid-endpoint-report"
    /// A routing daemon's route through a member that may not carry it (outside the member's
    /// grant, covering a member's or this host's address), or beyond the routes meshd follows.
    case daemonRouteRefused = "daemon-route-refused"

    // ... and the protocol core's.
    /// A version (record, verdict or anti-entropy entry) ahead of this node's clock plus the
    /// allowed skew (``RecordVersion/allowedSkew``): forged or corrupt, never adopted.
    case futureVersion = "future-version"
    /// A handshake or one-shot timestamp outside the freshness window (``ChannelSettings/freshnessWindow``).
    case staleTimestamp = "stale-timestamp"
    /// A one-shot datagram whose timestamp is not newer than the last one from that sender.
    case replayedOneShot = "replayed-one-shot"
    /// An ack or nack that does not match a probe this node sent to (or through) its sender.
    case unexpectedAck = "unexpected-ack"
    /// A request refused because its sender used up its budget (anti-entropy replies, relayed
    /// probes, per-source handshake or join limits).
    case overBudget = "over-budget"
    /// A datagram could not be sealed: nothing was sent.
    case sealFailed = "seal-failed"
    /// A join request whose timestamp is outside the freshness window, or not newer than the
    /// last one accepted for its invitation (a replay).
    case joinReplayed = "join-replayed"
    /// A renewal refused: too soon after the last one for that member, or its certificate
    /// expired or was revoked.
    case renewalRefused = "renewal-refused"

    public static func < (lhs: DropReason, rhs: DropReason) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Counts of discards by reason.
public struct DropCounters: Sendable, Equatable {
    public private(set) var counts: [DropReason: UInt64] = [:]

    public init() {}

    /// Counts one discard.
    public mutating func count(_ reason: DropReason, by amount: UInt64 = 1) { counts[reason, default: 0] &+= amount }

    /// The count for `reason`.
    public subscript(reason: DropReason) -> UInt64 { counts[reason] ?? 0 }

    /// All discards.
    public var total: UInt64 { counts.values.reduce(0, +) }
}

/// Limits and timers of the secure channel.
public struct ChannelSettings: Sendable {
    /// Largest datagram the channel sends: fits the IPv6 minimum MTU (1280) minus IPv6 and UDP headers.
    public var maximumDatagram = 1232
    /// Largest plaintext in one transport datagram (the limit every message layer plans for).
    public var maximumPayload = 1200
    /// Resend an unanswered handshake initiation after this long.
    public var handshakeRetry = Interval.milliseconds(500)
    /// A payload sent while a handshake has been pending this long resends the initiation at once.
    public var eagerRetry = Interval.milliseconds(200)
    /// Give up (and drop queued payloads) after this many initiations.
    public var handshakeAttempts = 8
    /// Start a new handshake when sending on a session older than this.
    public var rekeyAfter = Interval.seconds(120)
    /// Never use a session older than this.
    public var sessionLifetime = Interval.seconds(180)
    /// A session we sent on but received nothing on for this long is suspect: the peer may have
    /// restarted and lost it, so the next send starts a new handshake.
    public var unansweredAfter = Interval.seconds(2)
    /// Payloads queued per peer while a handshake is pending.
    public var queueLimit = 32
    /// Certificates from unknown senders verified per second (each costs a signature check).
    public var certificateAdmissionsPerSecond = 20.0
    /// Of those, per source address: one source cannot take the budget newcomers need.
    public var certificateAdmissionsPerSourcePerSecond = 2.0
    /// How far a handshake or one-shot timestamp may be from this node's clock. Members' clocks
    /// must agree this well (certificate validity tolerates the same 300 s); a datagram older
    /// than this is refused without replay state, so the state kept (and persisted) per peer is
    /// bounded to this window.
    public var freshnessWindow = Interval.seconds(300)

    public init() {}
}

/// A datagram to send and where to.
public struct OutboundDatagram: Sendable, Equatable {
    public var bytes: [UInt8]
    public var endpoint: SocketEndpoint

    public init(bytes: [UInt8], endpoint: SocketEndpoint) {
        self.bytes = bytes
        self.endpoint = endpoint
    }
}

/// What the channel needs to know about a peer: its node ID and static public key.
public struct ChannelPeer: Sendable {
    public var nodeID: NodeID
    public var staticPublicKey: [UInt8]

    public init(nodeID: NodeID, staticPublicKey: [UInt8]) {
        self.nodeID = nodeID
        self.staticPublicKey = staticPublicKey
    }
}

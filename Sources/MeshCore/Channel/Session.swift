import MeshCrypto

/// An established session with one peer: a pair of transport keys, a send counter and a replay
/// window. Created by a completed handshake; never outlives ``ChannelSettings/sessionLifetime``.
struct Session {
    let localIndex: UInt32
    let remoteIndex: UInt32
    let peer: NodeID
    let sendKey: SymmetricKey
    let receiveKey: SymmetricKey
    let createdAt: Timestamp
    let isInitiator: Bool
    var sendCounter: UInt64 = 0
    var replay = ReplayWindow()
    var lastReceived: Timestamp
    var lastSent: Timestamp = .zero
    /// The peer's endpoint as last authenticated on this session.
    var endpoint: SocketEndpoint

    init(localIndex: UInt32, remoteIndex: UInt32, peer: NodeID, sendKey: SymmetricKey, receiveKey: SymmetricKey,
         now: Timestamp, isInitiator: Bool, endpoint: SocketEndpoint) {
        self.localIndex = localIndex
        self.remoteIndex = remoteIndex
        self.peer = peer
        self.sendKey = sendKey
        self.receiveKey = receiveKey
        self.createdAt = now
        self.isInitiator = isInitiator
        self.lastReceived = now
        self.endpoint = endpoint
    }
}

/// A handshake this node started and is waiting to complete.
struct PendingHandshake {
    let localIndex: UInt32
    let peer: NodeID
    let ephemeralSecret: SecretBytes
    let ephemeralPublic: [UInt8]
    /// Chaining key after the initiation (static-static secret and ephemeral mixed in).
    let chainingKey: SecretBytes
    let initiationKey: SymmetricKey
    let startedAt: Timestamp
    var lastSentAt: Timestamp
    var attempts: Int
    var endpoint: SocketEndpoint
    let withCertificate: Bool
    /// Payloads waiting for the session.
    var queue: [[UInt8]] = []
}

/// What a responder remembers about the last initiation from a peer: its ephemeral key and the
/// answer, resent when the same initiation is retried (timestamps are in ``ReplayMark``).
struct ResponderMemory {
    var lastEphemeral: [UInt8]
    var lastResponse: [UInt8]
    var sessionIndex: UInt32
}

/// The newest timestamps accepted from one peer: a handshake initiation or one-shot datagram
/// must be newer than the last one of its kind (and within the freshness window).
public struct ReplayMark: Sendable, Equatable {
    /// Newest initiation timestamp accepted (0: none).
    public var initiation: UInt64 = 0
    /// Newest one-shot timestamp accepted (0: none).
    public var oneShot: UInt64 = 0

    public init(initiation: UInt64 = 0, oneShot: UInt64 = 0) {
        self.initiation = initiation
        self.oneShot = oneShot
    }
}

/// The channel's replay state, to persist across restarts (``SecureChannel/replayState(now:)``).
public struct ChannelReplayState: Sendable, Equatable {
    /// Newest accepted timestamps per peer, within the freshness window.
    public var marks: [NodeID: ReplayMark]
    /// The highest handshake or one-shot timestamp sent.
    public var highestTimestampSent: UInt64

    public init(marks: [NodeID: ReplayMark] = [:], highestTimestampSent: UInt64 = 0) {
        self.marks = marks
        self.highestTimestampSent = highestTimestampSent
    }
}

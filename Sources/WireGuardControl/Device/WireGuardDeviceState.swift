import MeshAddressing
import MeshCrypto

/// What a WireGuard device holds, as read back from it.
///
/// Peers are keyed by public key. Allowed IPs compare as sets (their order is not significant).
public struct WireGuardDeviceState: Equatable, Sendable {
    /// The interface name.
    public var interfaceName: String
    /// The device's public key; `nil` when no private key is set.
    public var publicKey: X25519PublicKey?
    /// The UDP port the device listens on (0 when not listening).
    public var listenPort: UInt16
    /// The firewall mark on the device's UDP packets (0 when none).
    public var fwmark: UInt32
    /// The peers, keyed by public key.
    public var peers: [X25519PublicKey: WireGuardPeerState]

    /// Creates a state value.
    public init(
        interfaceName: String, publicKey: X25519PublicKey? = nil, listenPort: UInt16 = 0, fwmark: UInt32 = 0,
        peers: [X25519PublicKey: WireGuardPeerState] = [:]
    ) {
        self.interfaceName = interfaceName
        self.publicKey = publicKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.peers = peers
    }
}

/// One peer of a WireGuard device, as read back.
public struct WireGuardPeerState: Equatable, Sendable {
    /// The peer's public key.
    public var publicKey: X25519PublicKey
    /// Where the device sends this peer's packets; `nil` when not known yet.
    public var endpoint: SocketEndpoint?
    /// Allowed IPs (compared as a set; readers return them sorted).
    public var allowedIPs: [IPPrefix]
    /// Persistent keepalive interval in seconds; 0 means off.
    public var persistentKeepalive: UInt16
    /// Time of the last completed handshake, as a duration since the Unix epoch; `nil` if never.
    public var lastHandshakeTime: Duration?
    /// Bytes received from this peer.
    public var receivedBytes: UInt64
    /// Bytes sent to this peer.
    public var transmittedBytes: UInt64

    /// Creates a peer state value.
    public init(
        publicKey: X25519PublicKey, endpoint: SocketEndpoint? = nil, allowedIPs: [IPPrefix] = [],
        persistentKeepalive: UInt16 = 0, lastHandshakeTime: Duration? = nil,
        receivedBytes: UInt64 = 0, transmittedBytes: UInt64 = 0
    ) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepalive = persistentKeepalive
        self.lastHandshakeTime = lastHandshakeTime
        self.receivedBytes = receivedBytes
        self.transmittedBytes = transmittedBytes
    }

    /// Equal when every field is equal, allowed IPs compared as sets.
    public static func == (lhs: WireGuardPeerState, rhs: WireGuardPeerState) -> Bool {
        lhs.publicKey == rhs.publicKey && lhs.endpoint == rhs.endpoint
            && lhs.persistentKeepalive == rhs.persistentKeepalive && lhs.lastHandshakeTime == rhs.lastHandshakeTime
            && lhs.receivedBytes == rhs.receivedBytes && lhs.transmittedBytes == rhs.transmittedBytes
            && (lhs.allowedIPs == rhs.allowedIPs || Set(lhs.allowedIPs) == Set(rhs.allowedIPs))
    }
}

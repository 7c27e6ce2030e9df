import MeshAddressing
import MeshCrypto

/// What the agent wants a WireGuard device to hold. The planner
/// (``WireGuardChangeSet/between(desired:actual:)``) turns it into the smallest change set.
///
/// Device fields left `nil` mean "no opinion": whatever the device has stays.
public struct WireGuardDesiredState: Sendable {
    /// The private key the device should use; `nil` leaves the device's key alone.
    public var privateKey: X25519PrivateKey?
    /// The listen port; `nil` leaves it alone (0 asks for a random port).
    public var listenPort: UInt16?
    /// The firewall mark; `nil` leaves it alone (0 clears it).
    public var fwmark: UInt32?
    /// Exactly the peers the device should have: others are removed.
    public var peers: [X25519PublicKey: WireGuardDesiredPeer]

    /// Creates a desired state from a list of peers (a later duplicate key wins).
    public init(
        privateKey: X25519PrivateKey? = nil, listenPort: UInt16? = nil, fwmark: UInt32? = nil,
        peers: [WireGuardDesiredPeer] = []
    ) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.peers = Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { _, last in last })
    }
}

/// One peer as the agent wants it.
public struct WireGuardDesiredPeer: Hashable, Sendable {
    /// The peer's public key.
    public var publicKey: X25519PublicKey
    /// Where to send the peer's packets. `nil` means "no opinion": the endpoint the device has
    /// (perhaps learned from the peer roaming) is kept.
    public var endpoint: SocketEndpoint?
    /// Exactly the allowed IPs the peer should have (order does not matter).
    public var allowedIPs: Set<IPPrefix>
    /// Persistent keepalive in seconds, exactly; 0 turns it off.
    public var persistentKeepalive: UInt16

    /// Creates a desired peer.
    public init(
        publicKey: X25519PublicKey, endpoint: SocketEndpoint? = nil, allowedIPs: some Sequence<IPPrefix> = [],
        persistentKeepalive: UInt16 = 0
    ) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.allowedIPs = Set(allowedIPs)
        self.persistentKeepalive = persistentKeepalive
    }

    /// Creates a desired peer from a base64 public key (`wg pubkey` format).
    /// - Throws: ``WireGuardControlError/malformedKey(what:reason:)`` when the text is not a key.
    public init(
        publicKeyBase64: String, endpoint: SocketEndpoint? = nil, allowedIPs: some Sequence<IPPrefix> = [],
        persistentKeepalive: UInt16 = 0
    ) throws {
        self.init(
            publicKey: try WireGuardKeyText.publicKey(base64: publicKeyBase64), endpoint: endpoint,
            allowedIPs: allowedIPs, persistentKeepalive: persistentKeepalive)
    }
}

import MeshAddressing
import MeshCrypto

/// The difference to write into a WireGuard device: only what changed.
///
/// Backends apply it without ever replacing the peer list: peers not named here are not touched.
/// Removals go first, then updates, then additions. Updates are sent "update only", so a peer
/// removed concurrently (by an operator or another tool) is not re-created by a stale update.
public struct WireGuardChangeSet: Sendable {
    /// A new private key, or `nil` to keep the device's.
    public var privateKey: X25519PrivateKey?
    /// A new listen port (0 = random), or `nil` to keep it.
    public var listenPort: UInt16?
    /// A new firewall mark (0 = none), or `nil` to keep it.
    public var fwmark: UInt32?
    /// Peers to create, with their whole configuration.
    public var peersToAdd: [WireGuardPeerConfiguration]
    /// Existing peers to change, with only the fields that changed.
    public var peersToUpdate: [WireGuardPeerUpdate]
    /// Public keys of peers to remove.
    public var peersToRemove: [X25519PublicKey]

    /// Creates a change set.
    public init(
        privateKey: X25519PrivateKey? = nil, listenPort: UInt16? = nil, fwmark: UInt32? = nil,
        peersToAdd: [WireGuardPeerConfiguration] = [], peersToUpdate: [WireGuardPeerUpdate] = [],
        peersToRemove: [X25519PublicKey] = []
    ) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.peersToAdd = peersToAdd
        self.peersToUpdate = peersToUpdate
        self.peersToRemove = peersToRemove
    }

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        privateKey == nil && listenPort == nil && fwmark == nil
            && peersToAdd.isEmpty && peersToUpdate.isEmpty && peersToRemove.isEmpty
    }

    /// Whether a device field (key, port, fwmark) changes.
    var changesDevice: Bool { privateKey != nil || listenPort != nil || fwmark != nil }
}

/// A peer to create. Its allowed IPs are exactly these (they replace any the peer already has,
/// should it exist by the time the change lands).
public struct WireGuardPeerConfiguration: Hashable, Sendable {
    /// The peer's public key.
    public var publicKey: X25519PublicKey
    /// Where to send its packets; `nil` leaves it unknown until the peer makes contact.
    public var endpoint: SocketEndpoint?
    /// Persistent keepalive in seconds; 0 = off.
    public var persistentKeepalive: UInt16
    /// The peer's allowed IPs.
    public var allowedIPs: [IPPrefix]

    /// Creates a peer configuration.
    public init(publicKey: X25519PublicKey, endpoint: SocketEndpoint? = nil, persistentKeepalive: UInt16 = 0, allowedIPs: [IPPrefix] = []) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
        self.allowedIPs = allowedIPs
    }
}

/// A change to an existing peer: each field is `nil` unless it changes.
public struct WireGuardPeerUpdate: Hashable, Sendable {
    /// The peer's public key.
    public var publicKey: X25519PublicKey
    /// A new endpoint, or `nil` to keep the current one.
    public var endpoint: SocketEndpoint?
    /// A new keepalive interval, or `nil` to keep it.
    public var persistentKeepalive: UInt16?
    /// The peer's complete new list of allowed IPs, or `nil` when they did not change. When
    /// present it replaces the peer's allowed IPs (replace-allowed-IPs for this peer only).
    public var allowedIPs: [IPPrefix]?

    /// Creates a peer update.
    public init(publicKey: X25519PublicKey, endpoint: SocketEndpoint? = nil, persistentKeepalive: UInt16? = nil, allowedIPs: [IPPrefix]? = nil) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
        self.allowedIPs = allowedIPs
    }

    /// Whether the update changes nothing.
    public var isEmpty: Bool { endpoint == nil && persistentKeepalive == nil && allowedIPs == nil }
}

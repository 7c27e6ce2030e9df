import MeshAddressing
import MeshCrypto
import Synchronization

/// A WireGuard device that lives in memory, with the same change-set semantics as the real
/// backends: removals, then updates (skipped for peers that do not exist: update-only), then
/// additions (replacing allowed IPs), and an allowed IP belongs to one peer at a time.
/// For tests and simulations of the reconciler.
public final class InMemoryWireGuardDevice: WireGuardDevice {
    public let interfaceName: String
    private let state: Mutex<WireGuardDeviceState>
    private let applied: Mutex<Int>

    /// Creates a device holding `initial`.
    public init(interfaceName: String, initial: WireGuardDeviceState? = nil) {
        self.interfaceName = interfaceName
        self.state = Mutex(initial ?? WireGuardDeviceState(interfaceName: interfaceName))
        self.applied = Mutex(0)
    }

    /// How many non-empty change sets were applied.
    public var appliedChangeSets: Int { applied.withLock { $0 } }

    public func read() throws -> WireGuardDeviceState {
        state.withLock { $0 }
    }

    public func apply(_ changes: WireGuardChangeSet) throws {
        guard !changes.isEmpty else { return }
        applied.withLock { $0 += 1 }
        state.withLock { device in Self.apply(changes, to: &device) }
    }

    /// Applies `changes` to a state value with the kernel's semantics.
    public static func apply(_ changes: WireGuardChangeSet, to device: inout WireGuardDeviceState) {
        if let key = changes.privateKey { device.publicKey = key.publicKey }
        if let port = changes.listenPort { device.listenPort = port }
        if let mark = changes.fwmark { device.fwmark = mark }
        for key in changes.peersToRemove { device.peers[key] = nil }
        for update in changes.peersToUpdate {
            guard var peer = device.peers[update.publicKey] else { continue }  // update-only
            if let endpoint = update.endpoint { peer.endpoint = endpoint }
            if let keepalive = update.persistentKeepalive { peer.persistentKeepalive = keepalive }
            if let allowed = update.allowedIPs {
                takeAllowedIPs(allowed, from: &device, except: update.publicKey)
                peer.allowedIPs = allowed.sorted()
            }
            device.peers[update.publicKey] = peer
        }
        for add in changes.peersToAdd {
            takeAllowedIPs(add.allowedIPs, from: &device, except: add.publicKey)
            var peer = device.peers[add.publicKey] ?? WireGuardPeerState(publicKey: add.publicKey)
            if let endpoint = add.endpoint { peer.endpoint = endpoint }
            peer.persistentKeepalive = add.persistentKeepalive
            peer.allowedIPs = add.allowedIPs.sorted()
            device.peers[add.publicKey] = peer
        }
    }

    private static func takeAllowedIPs(_ prefixes: [IPPrefix], from device: inout WireGuardDeviceState, except owner: X25519PublicKey) {
        let moving = Set(prefixes)
        for (key, var peer) in device.peers where key != owner && peer.allowedIPs.contains(where: moving.contains) {
            peer.allowedIPs.removeAll(where: moving.contains)
            device.peers[key] = peer
        }
    }
}

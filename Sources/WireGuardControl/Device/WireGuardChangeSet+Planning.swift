import MeshAddressing
import MeshCrypto

extension WireGuardChangeSet {
    /// The smallest change set that turns `actual` into `desired`.
    ///
    /// - Device fields change only when desired is non-`nil` and differs (the private key is
    ///   compared through its public key).
    /// - Peers in `actual` but not in `desired` are removed; peers in `desired` but not in `actual`
    ///   are added with their whole configuration.
    /// - For peers in both, an update carries only what differs: the endpoint when desired is
    ///   non-`nil` and differs (a `nil` desired endpoint keeps what the device has, such as an
    ///   endpoint learned from roaming), the keepalive when it differs, and the whole allowed-IP
    ///   list only when the sets differ.
    ///
    /// Applying the result and planning again yields an empty change set.
    /// Output order is deterministic (sorted by public key), so plans are reproducible.
    public static func between(desired: WireGuardDesiredState, actual: WireGuardDeviceState) -> WireGuardChangeSet {
        var changes = WireGuardChangeSet()
        if let key = desired.privateKey, key.publicKey != actual.publicKey {
            changes.privateKey = key
        }
        if let port = desired.listenPort, port != actual.listenPort, port != 0 || actual.listenPort == 0 {
            changes.listenPort = port
        }
        if let mark = desired.fwmark, mark != actual.fwmark {
            changes.fwmark = mark
        }
        for key in actual.peers.keys where desired.peers[key] == nil {
            changes.peersToRemove.append(key)
        }
        for (key, want) in desired.peers {
            guard let have = actual.peers[key] else {
                changes.peersToAdd.append(
                    WireGuardPeerConfiguration(
                        publicKey: key, endpoint: want.endpoint, persistentKeepalive: want.persistentKeepalive,
                        allowedIPs: want.allowedIPs.sorted()))
                continue
            }
            var update = WireGuardPeerUpdate(publicKey: key)
            if let endpoint = want.endpoint, endpoint != have.endpoint {
                update.endpoint = endpoint
            }
            if want.persistentKeepalive != have.persistentKeepalive {
                update.persistentKeepalive = want.persistentKeepalive
            }
            if have.allowedIPs.count != want.allowedIPs.count || !have.allowedIPs.allSatisfy(want.allowedIPs.contains) {
                update.allowedIPs = want.allowedIPs.sorted()
            }
            if !update.isEmpty { changes.peersToUpdate.append(update) }
        }
        changes.peersToRemove.sort(by: Self.keyOrder)
        changes.peersToAdd.sort { keyOrder($0.publicKey, $1.publicKey) }
        changes.peersToUpdate.sort { keyOrder($0.publicKey, $1.publicKey) }
        return changes
    }

    private static func keyOrder(_ a: X25519PublicKey, _ b: X25519PublicKey) -> Bool {
        a.bytes.lexicographicallyPrecedes(b.bytes)
    }
}

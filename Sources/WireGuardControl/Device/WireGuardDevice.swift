/// One WireGuard device, whatever implements it (the kernel module over generic netlink, or a
/// userspace daemon over its UAPI socket).
///
/// Both methods are synchronous and may block briefly on the kernel or the daemon. Implementations
/// are safe to call from several threads (calls are serialised).
public protocol WireGuardDevice: Sendable {
    /// The interface name.
    var interfaceName: String { get }

    /// Reads the device: keys, port, fwmark and every peer with its endpoint, allowed IPs,
    /// keepalive, last handshake and counters.
    func read() throws -> WireGuardDeviceState

    /// Applies a change set. Never replaces the peer list; updates are update-only; a peer's
    /// allowed IPs are replaced only when the update carries them. An empty change set does nothing.
    func apply(_ changes: WireGuardChangeSet) throws
}

extension WireGuardDevice {
    /// Reads the device, plans the difference to `desired`, applies it, and returns what was applied.
    @discardableResult
    public func reconcile(to desired: WireGuardDesiredState) throws -> WireGuardChangeSet {
        let changes = WireGuardChangeSet.between(desired: desired, actual: try read())
        if !changes.isEmpty { try apply(changes) }
        return changes
    }
}

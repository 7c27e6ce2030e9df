import Synchronization

/// A WireGuard device run by a userspace daemon (wireguard-go, boringtun), driven over its UAPI
/// socket `SOCKETDIR/IFNAME.sock`.
///
/// Same change-set semantics as the kernel backend, within what the daemon supports: never
/// `replace_peers`, `update_only` for updates, `remove` for removals, and a peer's allowed IPs
/// replaced (`replace_allowed_ips`) only when they changed. Old wireguard-go (0.0.20220316)
/// cannot remove a single allowed IP, so removals always go through a replace of that peer's list.
///
/// The link itself (addresses, MTU, up, routes) is managed with ``LinkManager``.
public final class UserspaceWireGuardDevice: WireGuardDevice {
    public let interfaceName: String
    /// The network namespace the daemon's interface lives in; used to explain errors (the socket
    /// path is the same in every namespace).
    public let namespace: String?
    /// The UAPI socket path.
    public let socketPath: String
    private let lock = Mutex(())

    /// The default UAPI socket directory.
    public static let defaultSocketDirectory = "/var/run/wireguard"

    /// A device for the daemon owning `interfaceName`. Nothing is contacted until the first call.
    public init(interfaceName: String, namespace: String? = nil, socketDirectory: String = UserspaceWireGuardDevice.defaultSocketDirectory) {
        self.interfaceName = interfaceName
        self.namespace = namespace
        self.socketPath = "\(socketDirectory)/\(interfaceName).sock"
    }

    public func read() throws -> WireGuardDeviceState {
        try lock.withLock { _ in
            let reply = try explained { try UAPIConnection.exchange(UAPICodec.getRequest, path: socketPath, interface: interfaceName) }
            return try reply.withUnsafeBytes { try UAPICodec.parseGet($0, interfaceName: interfaceName) }
        }
    }

    public func apply(_ changes: WireGuardChangeSet) throws {
        guard !changes.isEmpty else { return }
        try lock.withLock { _ in
            var request = [UInt8]()
            request.reserveCapacity(128 + 160 * (changes.peersToAdd.count + changes.peersToUpdate.count + changes.peersToRemove.count))
            UAPICodec.encodeSet(changes, into: &request)
            defer { if changes.privateKey != nil { for index in request.indices { request[index] = 0 } } }
            let reply = try explained { try UAPIConnection.exchange(request, path: socketPath, interface: interfaceName) }
            let status = try reply.withUnsafeBytes { try UAPICodec.parseStatus($0) }
            guard status == 0 else {
                throw WireGuardControlError.userspace(interface: interfaceName, operation: "configuring the device", errno: status)
            }
        }
    }

    /// Turns "no socket" into "no such interface" or "not WireGuard" when the link tells why.
    private func explained<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch WireGuardControlError.noUserspaceDaemon(let name, let path) {
            guard let links = try? LinkManager(namespace: namespace) else {
                throw WireGuardControlError.noUserspaceDaemon(interface: name, socketPath: path)
            }
            let link: LinkInfo?
            do { link = try links.link(named: name) } catch {
                throw WireGuardControlError.noUserspaceDaemon(interface: name, socketPath: path)
            }
            guard let link else { throw WireGuardControlError.noSuchInterface(name) }
            if link.kind != "tun" && link.kind != "wireguard" {
                throw WireGuardControlError.notWireGuard(interface: name, kind: link.kind)
            }
            throw WireGuardControlError.noUserspaceDaemon(interface: name, socketPath: path)
        }
    }
}

import Foundation

/// The peers of a WireGuard interface as `wg show IFACE dump` prints them, read the way an
/// operator reads them (works for the kernel module and for wireguard-go's UAPI socket alike).
public struct WireGuardDump: Sendable, Equatable {
    /// One peer line.
    public struct Peer: Sendable, Equatable {
        /// The peer's public key (base64).
        public var publicKey: String
        /// Its endpoint (`ADDRESS:PORT` or `[ADDRESS]:PORT`), nil when `(none)`.
        public var endpoint: String?
        /// Its allowed IPs (CIDR strings).
        public var allowedIPs: [String]
        /// Seconds since the epoch of the last handshake (0: never).
        public var latestHandshake: UInt64
        /// Bytes received from it.
        public var receivedBytes: UInt64
        /// Bytes sent to it.
        public var transmittedBytes: UInt64
    }

    /// The interface's own public key.
    public var publicKey: String
    /// Its listen port.
    public var listenPort: UInt16
    /// Its peers, in the order `wg` printed them.
    public var peers: [Peer]

    /// Parses the output of `wg show IFACE dump` (tab-separated; the first line is the interface).
    public init(parsing text: String) throws {
        let lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let first = lines.first, first.count >= 4, let port = UInt16(first[2]) else {
            throw LabError.failed("not the output of `wg show IFACE dump`: \(text.prefix(200))")
        }
        publicKey = first[1]
        listenPort = port
        peers = try lines.dropFirst().map { fields in
            guard fields.count >= 8 else { throw LabError.failed("a peer line of `wg show dump` has \(fields.count) fields: \(fields)") }
            return Peer(
                publicKey: fields[0], endpoint: fields[2] == "(none)" ? nil : fields[2],
                allowedIPs: fields[3] == "(none)" ? [] : fields[3].split(separator: ",").map(String.init),
                latestHandshake: UInt64(fields[4]) ?? 0, receivedBytes: UInt64(fields[5]) ?? 0, transmittedBytes: UInt64(fields[6]) ?? 0)
        }
    }

    /// The peer with public key `key`, if configured.
    public func peer(_ key: String) -> Peer? { peers.first { $0.publicKey == key } }
}

extension MeshLabNode {
    /// `wg show IFACE dump` inside the node's namespace, parsed.
    public func wireGuardDump() throws -> WireGuardDump {
        try WireGuardDump(parsing: run(["wg", "show", interface, "dump"]).output)
    }
}

import MeshCore
import NIOCore

extension SocketEndpoint {
    /// The endpoint of a NIO socket address; IPv4-mapped IPv6 addresses become IPv4.
    init?(_ address: SocketAddress) {
        guard let host = address.ipAddress, let port = address.port, port > 0, port <= 65535, let parsed = IPAddress(host) else { return nil }
        var ip = parsed
        if case let .v6(v6) = parsed, v6.high == 0, v6.low >> 32 == 0xFFFF {
            ip = .v4(IPv4Address(UInt32(truncatingIfNeeded: v6.low)))
        }
        self.init(address: ip, port: UInt16(port))
    }

    /// The NIO socket address to send to from a socket of the given kind (IPv4 endpoints are
    /// written as IPv4-mapped addresses on a dual-stack IPv6 socket).
    func socketAddress(dualStack: Bool) -> SocketAddress? {
        let host = address.isIPv4 && dualStack ? "::ffff:\(address)" : "\(address)"
        return try? SocketAddress(ipAddress: host, port: Int(port))
    }
}

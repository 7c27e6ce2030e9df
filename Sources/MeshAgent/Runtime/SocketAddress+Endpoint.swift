import MeshCore
import NIOCore

extension SocketEndpoint {
    /// The endpoint of a NIO socket address; IPv4-mapped IPv6 addresses become IPv4. Read from
    /// the `sockaddr` itself (no text round trip: the relay converts every datagram's source).
    init?(_ address: SocketAddress) {
        switch address {
        case let .v4(v4):
            let raw = v4.address
            let port = UInt16(bigEndian: raw.sin_port)
            guard port > 0 else { return nil }
            self.init(address: .v4(IPv4Address(UInt32(bigEndian: raw.sin_addr.s_addr))), port: port)
        case let .v6(v6):
            var raw = v6.address
            let port = UInt16(bigEndian: raw.sin6_port)
            guard port > 0 else { return nil }
            let (high, low) = withUnsafeBytes(of: &raw.sin6_addr) {
                (UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            if high == 0, low >> 32 == 0xFFFF {
                self.init(address: .v4(IPv4Address(UInt32(truncatingIfNeeded: low))), port: port)
            } else {
                self.init(address: .v6(IPv6Address(high: high, low: low)), port: port)
            }
        case .unixDomainSocket:
            return nil
        }
    }

    /// The NIO socket address to send to from a socket of the given kind (IPv4 endpoints are
    /// written as IPv4-mapped addresses on a dual-stack IPv6 socket).
    func socketAddress(dualStack: Bool) -> SocketAddress? {
        let host = address.isIPv4 && dualStack ? "::ffff:\(address)" : "\(address)"
        return try? SocketAddress(ipAddress: host, port: Int(port))
    }
}

import CNetlink
import MeshAddressing
#if canImport(Glibc)
import Glibc
#endif

/// `sockaddr_in` / `sockaddr_in6` as the WireGuard netlink API carries endpoints.
enum SocketAddressCodec {
    /// Appends the endpoint as a `sockaddr_in` (16 bytes) or `sockaddr_in6` (28 bytes) attribute.
    static func append(_ endpoint: SocketEndpoint, as type: UInt16, to writer: inout NetlinkMessageWriter) {
        switch endpoint.address {
        case let .v4(address):
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = endpoint.port.bigEndian
            raw.sin_addr.s_addr = address.value.bigEndian
            withUnsafeBytes(of: raw) { writer.appendAttribute(type, $0) }
        case let .v6(address):
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = endpoint.port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin6_addr) { target in
                target.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                target.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeBytes(of: raw) { writer.appendAttribute(type, $0) }
        }
    }

    /// Reads an endpoint attribute payload; `nil` for an unspecified address (family 0).
    static func decode(_ payload: UnsafeRawBufferPointer) throws -> SocketEndpoint? {
        guard payload.count >= 2 else { throw WireGuardControlError.malformedReply("endpoint of \(payload.count) bytes") }
        let family = Int32(payload.loadUnaligned(as: sa_family_t.self))
        switch family {
        case AF_INET:
            guard payload.count >= 16 else { throw WireGuardControlError.malformedReply("IPv4 endpoint of \(payload.count) bytes") }
            let port = UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let address = UInt32(bigEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            return SocketEndpoint(address: .v4(IPv4Address(address)), port: port)
        case AF_INET6:
            guard payload.count >= 28 else { throw WireGuardControlError.malformedReply("IPv6 endpoint of \(payload.count) bytes") }
            let port = UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let high = UInt64(bigEndian: payload.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let low = UInt64(bigEndian: payload.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            return SocketEndpoint(address: .v6(IPv6Address(high: high, low: low)), port: port)
        case 0:
            return nil
        default:
            throw WireGuardControlError.malformedReply("endpoint of address family \(family)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// Sends one UDP byte to a peer's overlay address (the discard port): routed into the WireGuard
/// interface, it makes WireGuard start a handshake with that peer at once.
enum TunnelNudge {
    static func send(to address: IPAddress) {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var byte: UInt8 = 0
        switch address {
        case let .v4(v4):
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = UInt16(9).bigEndian
            target.sin_addr.s_addr = v4.value.bigEndian
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, &byte, 1, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6:
            var target = sockaddr_in6()
            target.sin6_family = sa_family_t(AF_INET6)
            target.sin6_port = UInt16(9).bigEndian
            withUnsafeMutableBytes(of: &target.sin6_addr) { buffer in
                for (index, value) in address.bytes.enumerated() { buffer[index] = value }
            }
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, &byte, 1, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

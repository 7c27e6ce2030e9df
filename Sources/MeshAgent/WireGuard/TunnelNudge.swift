#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// Sends one UDP byte to a peer's overlay address (the discard port): routed into the WireGuard
/// interface, it makes WireGuard start a handshake with that peer at once.
enum TunnelNudge {
    static func send(to address: IPAddress) {
        let descriptor = socket(address.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var byte: UInt8 = 0
        _ = UDPSocket.withSocketAddress(address, port: 9, dualStack: false) { target, length in
            sendto(descriptor, &byte, 1, Int32(MSG_DONTWAIT), target, length)
        }
    }
}

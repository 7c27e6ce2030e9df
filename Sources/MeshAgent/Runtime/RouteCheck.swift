#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import Synchronization

/// Answers "does this host have a route to that address?" without sending anything (a UDP
/// `connect` asks the kernel's routing table), remembering answers for a while.
///
/// SwiftNIO closes a datagram channel when a write fails with "network unreachable", so the gossip
/// socket must never be asked to send where no route exists (an IPv4 endpoint from an IPv6-only
/// host, or a public address from a host with only a LAN route).
final class RouteCheck: Sendable {
    private let cache = Mutex<[IPAddress: (routable: Bool, checkedAt: ContinuousClock.Instant)]>([:])
    private let lifetime: Duration = .seconds(10)

    func isRoutable(_ address: IPAddress) -> Bool {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[address] }), now - cached.checkedAt < lifetime { return cached.routable }
        let routable = Self.lookup(address)
        cache.withLock { entries in
            if entries.count > 4096 { entries.removeAll() }
            entries[address] = (routable, now)
        }
        return routable
    }

    static func lookup(_ address: IPAddress) -> Bool {
        let descriptor = socket(address.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        switch address {
        case let .v4(v4):
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = UInt16(9).bigEndian
            target.sin_addr.s_addr = v4.value.bigEndian
            return withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        case .v6:
            var target = sockaddr_in6()
            target.sin6_family = sa_family_t(AF_INET6)
            target.sin6_port = UInt16(9).bigEndian
            withUnsafeMutableBytes(of: &target.sin6_addr) { buffer in
                for (index, value) in address.bytes.enumerated() { buffer[index] = value }
            }
            return withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            } == 0
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// The host's own addresses, for announcing local endpoints: every up, non-loopback interface's
/// global addresses, minus the mesh interface itself and the configured excluded networks.
enum LocalAddresses {
    /// The usable addresses, sorted.
    static func current(excludingInterface meshInterface: String, excludedNetworks: [IPPrefix]) -> [IPAddress] {
        subnets(excludingInterface: meshInterface, excludedNetworks: excludedNetworks).map(\.address).sorted()
    }

    /// The usable addresses with the prefix of the network each is on (its subnet).
    static func subnets(excludingInterface meshInterface: String, excludedNetworks: [IPPrefix]) -> [(address: IPAddress, subnet: IPPrefix)] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [(address: IPAddress, subnet: IPPrefix)] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let flags = Int32(entry.pointee.ifa_flags)
            guard flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0,
                  let name = entry.pointee.ifa_name.map({ String(cString: $0) }), name != meshInterface,
                  let socketAddress = entry.pointee.ifa_addr
            else { continue }
            let address: IPAddress?
            switch Int32(socketAddress.pointee.sa_family) {
            case AF_INET:
                address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    .v4(IPv4Address(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)))
                }
            case AF_INET6:
                address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    var raw = $0.pointee.sin6_addr
                    return IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) })
                }
            default:
                address = nil
            }
            _ = name
            guard let address, !address.isLocalOnly, !excludedNetworks.contains(where: { $0.contains(address) }) else { continue }
            let length = entry.pointee.ifa_netmask.map(Self.prefixLength) ?? address.bitWidth
            guard let subnet = IPPrefix(containing: address, length: length), !result.contains(where: { $0.address == address }) else { continue }
            result.append((address, subnet))
        }
        return result
    }
}

extension LocalAddresses {
    /// The number of leading one bits of a netmask socket address.
    static func prefixLength(_ mask: UnsafeMutablePointer<sockaddr>) -> Int {
        switch Int32(mask.pointee.sa_family) {
        case AF_INET:
            return mask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr).nonzeroBitCount }
        case AF_INET6:
            return mask.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                var raw = $0.pointee.sin6_addr
                return withUnsafeBytes(of: &raw) { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
            }
        default:
            return 0
        }
    }
}

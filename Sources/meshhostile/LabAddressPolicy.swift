import MeshCore

/// meshhostile is lab tooling: it refuses to send to, or name, any address outside the ranges
/// reserved for documentation and private use (TEST-NET-1/2/3, 2001:db8::/32, ULA fc00::/7,
/// loopback), so it cannot be aimed at a real network by accident.
enum LabAddressPolicy {
    static let allowed: [IPPrefix] = [
        "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "127.0.0.0/8", "2001:db8::/32", "fc00::/7", "::1/128",
    ].compactMap { try? IPPrefix(parsing: $0) }

    static func permits(_ address: IPAddress) -> Bool { allowed.contains { $0.contains(address) } }
}

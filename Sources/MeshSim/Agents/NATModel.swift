import MeshCore

/// A NAT in front of one host of an ``AgentWorld``, with the behaviours of RFC 4787 that decide
/// whether two hosts behind NATs can reach each other directly:
/// - ``Kind/endpointIndependent``: one mapping per inside endpoint, whatever the destination, and
///   any outside source may use it (a "full cone"); the port is kept when free.
/// - ``Kind/addressDependent``: one mapping per inside endpoint (port kept), but only addresses
///   the host has sent to may answer through it (a "restricted cone", most home routers): two such
///   hosts reach each other once both have sent (hole punching).
/// - ``Kind/symmetric``: a new mapping, on a new port, per destination endpoint, and only that
///   endpoint may answer (carrier-grade NATs, many firewalls): the port a third party sees is not
///   the port the peer would need, so two such hosts never reach each other directly.
///
/// Mappings expire after ``idleTimeout`` without outbound traffic (RFC 4787 asks for ≥ 2 min;
/// many NATs use 30–60 s, which WireGuard's 25 s keepalive is chosen to beat).
struct NATModel {
    enum Kind: String, CaseIterable, Sendable {
        case endpointIndependent = "endpoint-independent"
        case addressDependent = "address-dependent"
        case symmetric
    }

    let kind: Kind
    /// The NAT's outside address.
    let publicAddress: IPAddress
    var idleTimeout = Interval.seconds(60)

    private struct Mapping {
        var inside: SocketEndpoint
        var publicPort: UInt16
        /// Who may send in (addresses for address-dependent filtering, endpoints for symmetric).
        var permittedAddresses: Set<IPAddress> = []
        var permittedEndpoints: Set<SocketEndpoint> = []
        var lastOutbound: Timestamp
    }

    /// Key of a mapping: the inside endpoint, and for a symmetric NAT the destination too.
    private struct MappingKey: Hashable {
        var inside: SocketEndpoint
        var destination: SocketEndpoint?
    }

    private var mappings: [MappingKey: Mapping] = [:]
    private var byPublicPort: [UInt16: MappingKey] = [:]
    private var nextPort: UInt16 = 30000

    init(kind: Kind, publicAddress: IPAddress) {
        self.kind = kind
        self.publicAddress = publicAddress
    }

    /// The outside source of a datagram from `inside` to `destination` (a mapping made or refreshed).
    mutating func outbound(from inside: SocketEndpoint, to destination: SocketEndpoint, now: Timestamp) -> SocketEndpoint {
        expire(now: now)
        let key = MappingKey(inside: inside, destination: kind == .symmetric ? destination : nil)
        var mapping = mappings[key] ?? Mapping(inside: inside, publicPort: allocatePort(preferring: kind == .symmetric ? nil : inside.port), lastOutbound: now)
        mapping.lastOutbound = now
        mapping.permittedAddresses.insert(destination.address)
        mapping.permittedEndpoints.insert(destination)
        mappings[key] = mapping
        byPublicPort[mapping.publicPort] = key
        return SocketEndpoint(address: publicAddress, port: mapping.publicPort)
    }

    /// The inside endpoint a datagram from `source` to the NAT's port `port` goes to, or nil when
    /// no mapping lets it in.
    mutating func inbound(to port: UInt16, from source: SocketEndpoint, now: Timestamp) -> SocketEndpoint? {
        expire(now: now)
        guard let key = byPublicPort[port], let mapping = mappings[key] else { return nil }
        switch kind {
        case .endpointIndependent: return mapping.inside
        case .addressDependent: return mapping.permittedAddresses.contains(source.address) ? mapping.inside : nil
        case .symmetric: return mapping.permittedEndpoints.contains(source) ? mapping.inside : nil
        }
    }

    private mutating func allocatePort(preferring port: UInt16?) -> UInt16 {
        if let port, byPublicPort[port] == nil { return port }
        while byPublicPort[nextPort] != nil { nextPort = nextPort == .max ? 30000 : nextPort + 1 }
        defer { nextPort = nextPort == .max ? 30000 : nextPort + 1 }
        return nextPort
    }

    private mutating func expire(now: Timestamp) {
        for (key, mapping) in mappings where now - mapping.lastOutbound >= idleTimeout {
            mappings[key] = nil
            byPublicPort[mapping.publicPort] = nil
        }
    }
}

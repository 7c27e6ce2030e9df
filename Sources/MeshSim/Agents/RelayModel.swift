import MeshAgentCore
import MeshCore

/// A model of a relay host's ports (meshd's ``RelayService`` forwarders): one allocation per pair
/// of members, two ports each; a port accepts datagrams only from the address its member was
/// authenticated from, latches onto the source port, and forwards to the other side's latched
/// source (or, before that side sent, where its WireGuard is expected to listen).
struct RelayModel {
    struct Allocation {
        var ports: [NodeID: UInt16]
        var allowed: [NodeID: IPAddress]
        var expected: [NodeID: SocketEndpoint]
        var latched: [NodeID: SocketEndpoint] = [:]
        var expiresAt: Timestamp
    }

    /// The relay host's address.
    let address: IPAddress
    let lease = Interval.seconds(30)
    let maximumAllocations = 256
    private(set) var allocations: [PairKey: Allocation] = [:]
    private var portOwners: [UInt16: (pair: PairKey, member: NodeID)] = [:]
    private var nextPort: UInt16 = 40000
    /// How many times each pair was allocated (an invariant: once per pair while it lives).
    private(set) var allocationsMade: [PairKey: Int] = [:]

    /// A pair of members, in either order.
    struct PairKey: Hashable {
        let low: NodeID, high: NodeID
        init(_ a: NodeID, _ b: NodeID) { (low, high) = a < b ? (a, b) : (b, a) }
    }

    init(address: IPAddress) { self.address = address }

    /// Allocates the pair (or returns its live allocation); nil when full. `created` says which.
    mutating func allocate(
        requester: NodeID, requesterAddress: IPAddress, peer: NodeID, peerAddress: IPAddress, expected: [NodeID: SocketEndpoint], now: Timestamp
    ) -> (ports: [NodeID: UInt16], created: Bool)? {
        let key = PairKey(requester, peer)
        if var existing = allocations[key] {
            existing.allowed[requester] = requesterAddress
            existing.allowed[peer] = peerAddress
            existing.expiresAt = now + lease
            allocations[key] = existing
            return (existing.ports, false)
        }
        guard allocations.count < maximumAllocations else { return nil }
        var ports: [NodeID: UInt16] = [:]
        for member in [key.low, key.high] {
            nextPort = nextPort == 49999 ? 40000 : nextPort + 1
            ports[member] = nextPort
            portOwners[nextPort] = (key, member)
        }
        allocations[key] = Allocation(
            ports: ports, allowed: [requester: requesterAddress, peer: peerAddress], expected: expected, expiresAt: now + lease)
        allocationsMade[key, default: 0] += 1
        return (ports, true)
    }

    /// Extends a pair's lease; its ports, or nil if it has none.
    mutating func renew(_ a: NodeID, _ b: NodeID, now: Timestamp) -> [NodeID: UInt16]? {
        let key = PairKey(a, b)
        guard var allocation = allocations[key] else { return nil }
        allocation.expiresAt = now + lease
        allocations[key] = allocation
        return allocation.ports
    }

    /// Whether `member` has sent to its port of the pair.
    func hasLatched(_ member: NodeID, with other: NodeID) -> Bool {
        allocations[PairKey(member, other)]?.latched[member] != nil
    }

    /// Updates the address `member` may send from.
    mutating func allow(_ member: NodeID, from address: IPAddress) {
        for (key, var allocation) in allocations where allocation.allowed[member] != nil {
            allocation.allowed[member] = address
            allocations[key] = allocation
        }
    }

    mutating func release(_ a: NodeID, _ b: NodeID) {
        guard let removed = allocations.removeValue(forKey: PairKey(a, b)) else { return }
        for port in removed.ports.values { portOwners[port] = nil }
    }

    /// Releases every pair of `member` (it is gone).
    mutating func release(involving member: NodeID) {
        for key in allocations.keys where key.low == member || key.high == member { release(key.low, key.high) }
    }

    mutating func expire(now: Timestamp) {
        for (key, allocation) in allocations where allocation.expiresAt <= now { release(key.low, key.high) }
    }

    /// A datagram arrived at relay port `port` from `source`: where it goes next (from the other
    /// port), or nil when dropped.
    mutating func forward(to port: UInt16, from source: SocketEndpoint) -> (to: SocketEndpoint, from: SocketEndpoint)? {
        guard let owner = portOwners[port], var allocation = allocations[owner.pair],
              allocation.allowed[owner.member] == source.address
        else { return nil }
        allocation.latched[owner.member] = source
        allocations[owner.pair] = allocation
        let other = owner.member == owner.pair.low ? owner.pair.high : owner.pair.low
        guard let destination = allocation.latched[other] ?? allocation.expected[other], let otherPort = allocation.ports[other] else { return nil }
        return (destination, SocketEndpoint(address: address, port: otherPort))
    }
}

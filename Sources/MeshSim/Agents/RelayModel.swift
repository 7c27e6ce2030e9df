import MeshAgentCore
import MeshCore

/// A relay host's ports (what meshd's ``RelayService`` forwarders do), around the core's
/// ``RelayTable`` (which pairs, for how long, from which addresses — the same table meshd runs):
/// one allocation per pair of members, two ports each; a port accepts datagrams only from the
/// address its member was authenticated from, latches onto the source port, and forwards to the
/// other side's latched source (or, before that side sent, where its WireGuard is expected to listen).
struct RelayModel {
    /// The relay host's address.
    let address: IPAddress
    private(set) var table = RelayTable()
    var lease: Interval { table.limits.lease }
    private var portOwners: [UInt16: (pair: RelayTable.Pair, member: NodeID)] = [:]
    /// The source each side of a pair sends from, once it has sent.
    private var latched: [RelayTable.Pair: [NodeID: SocketEndpoint]] = [:]
    private var nextPort: UInt16 = 40000
    /// How many times each pair was allocated (an invariant: once per pair while it lives).
    private(set) var allocationsMade: [RelayTable.Pair: Int] = [:]

    init(address: IPAddress) { self.address = address }

    /// Allocates the pair (or returns its live allocation); nil when refused. `created` says which.
    /// Ports are bound at once here, so no request ever finds the pair binding.
    mutating func allocate(
        requester: NodeID, requesterAddress: IPAddress, peer: NodeID, peerAddress: IPAddress, expected: [NodeID: SocketEndpoint], now: Timestamp
    ) -> (ports: [NodeID: UInt16], created: Bool)? {
        switch table.request(
            requester: requester, requesterAddress: requesterAddress, peer: peer, peerAddress: peerAddress, expected: expected, now: now) {
        case let .existing(allocation):
            return (allocation.ports, false)
        case .binding, .refused:
            return nil
        case .bind:
            let pair = RelayTable.Pair(requester, peer)
            var ports: [NodeID: UInt16] = [:]
            for member in [pair.low, pair.high] {
                nextPort = nextPort == 49999 ? 40000 : nextPort + 1
                ports[member] = nextPort
                portOwners[nextPort] = (pair, member)
            }
            guard let allocation = table.bound(pair, ports: ports, now: now) else { return nil }
            allocationsMade[pair, default: 0] += 1
            return (allocation.ports, true)
        }
    }

    /// Extends a pair's lease; its ports, or nil if it has none.
    mutating func renew(_ a: NodeID, _ b: NodeID, now: Timestamp) -> [NodeID: UInt16]? {
        table.renew(RelayTable.Pair(a, b), now: now)?.ports
    }

    /// Whether the pair of `a` and `b` has an allocation.
    func holds(_ a: NodeID, _ b: NodeID) -> Bool { table.allocation(of: RelayTable.Pair(a, b)) != nil }

    /// Whether `member` has sent to its port of the pair.
    func hasLatched(_ member: NodeID, with other: NodeID) -> Bool {
        latched[RelayTable.Pair(member, other)]?[member] != nil
    }

    /// Updates the address `member` may send from; its latched source moves there
    /// (``RelayTable/latched(_:movedTo:)``, as meshd's forwarder).
    mutating func allow(_ member: NodeID, from address: IPAddress) {
        for pair in table.allow(member, from: address) {
            guard let source = latched[pair]?[member] else { continue }
            latched[pair]?[member] = RelayTable.latched(source, movedTo: address)
        }
    }

    /// Releases the pair of `a` and `b`; returns whether there was one.
    @discardableResult
    mutating func release(_ a: NodeID, _ b: NodeID) -> Bool {
        guard let released = table.release(RelayTable.Pair(a, b)) else { return false }
        closePorts(released)
        return true
    }

    /// Releases every pair of `member` (it is gone).
    mutating func release(involving member: NodeID) {
        for released in table.release(involving: member) { closePorts(released) }
    }

    mutating func expire(now: Timestamp) {
        for expired in table.expire(now: now) { closePorts(expired) }
    }

    private mutating func closePorts(_ allocation: RelayTable.Allocation) {
        for port in allocation.ports.values { portOwners[port] = nil }
        latched[allocation.pair] = nil
    }

    /// A datagram arrived at relay port `port` from `source`: where it goes next (from the other
    /// port), or nil when dropped.
    mutating func forward(to port: UInt16, from source: SocketEndpoint) -> (to: SocketEndpoint, from: SocketEndpoint)? {
        guard let owner = portOwners[port], let allocation = table.allocation(of: owner.pair),
              allocation.allowed[owner.member] == source.address
        else { return nil }
        latched[owner.pair, default: [:]][owner.member] = source
        let other = owner.pair.other(than: owner.member)
        guard let destination = latched[owner.pair]?[other] ?? allocation.expected[other], let otherPort = allocation.ports[other] else { return nil }
        return (destination, SocketEndpoint(address: address, port: otherPort))
    }
}

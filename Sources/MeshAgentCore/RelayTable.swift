import MeshCore

/// A relay's allocation table, without sockets: who may have a pair, one allocation per pair
/// however many requests cross, leases, and the addresses each side may send from. The ports
/// themselves — binding them, latching onto sources, forwarding — are the shell's (meshd's
/// ``RelayService``, the simulator's relay model); both run this table.
///
/// A new pair is first *binding* (the shell is opening its two ports), then *ready*. A request
/// for a pair being bound waits for that binding instead of opening a second one: when both ends
/// of a pair asked at the same moment, checking, then binding, then inserting allocated the pair
/// twice and orphaned one forwarder with two open ports (issue 11).
package struct RelayTable: Sendable {
    /// Limits of a relay.
    package struct Limits: Sendable {
        /// Most pairs at once (ready and binding).
        package var maximumAllocations = 256
        /// Most pairs one member may take part in at once (one member cannot hold pairs with
        /// every other member). A path manager asks for one relay per peer whose direct path
        /// failed, so this is the number of such peers one member may have through this relay.
        package var maximumPairsPerMember = 32
        /// How long an allocation lives without a refresh.
        package var lease = Interval.seconds(30)
        package init() {}
    }

    /// A pair being relayed (order does not matter).
    package struct Pair: Hashable, Sendable, CustomStringConvertible {
        package let low: NodeID
        package let high: NodeID
        package init(_ a: NodeID, _ b: NodeID) { (low, high) = a < b ? (a, b) : (b, a) }
        package func contains(_ node: NodeID) -> Bool { node == low || node == high }
        /// The other member of the pair.
        package func other(than node: NodeID) -> NodeID { node == low ? high : low }
        package var description: String { "\(low.hex)↔\(high.hex)" }
    }

    /// A ready allocation.
    package struct Allocation: Sendable, Equatable {
        package let pair: Pair
        /// The port each member sends to.
        package let ports: [NodeID: UInt16]
        /// The address each member may send from (where the secure channel last authenticated it).
        package var allowed: [NodeID: IPAddress]
        /// Where each member's WireGuard is expected to listen, until it has sent itself.
        package var expected: [NodeID: SocketEndpoint]
        /// When it lapses unless refreshed.
        package var expiresAt: Timestamp
    }

    /// Why a relay does not allocate.
    package enum Refusal: Error, Equatable, Sendable {
        /// ``Limits/maximumAllocations`` pairs are held.
        case full
        /// A member asked to relay for a pair with itself.
        case pairWithItself
        /// The requester already takes part in ``Limits/maximumPairsPerMember`` pairs.
        case memberPairLimit
    }

    /// What a request comes to.
    package enum Admission: Equatable, Sendable {
        /// The pair has an allocation: its lease was renewed and its addresses updated.
        case existing(Allocation)
        /// The pair's ports are being bound for an earlier request: wait for that binding.
        case binding
        /// A new pair: bind its two ports, then report them with ``bound(_:ports:now:)`` (or
        /// ``bindingFailed(_:)``).
        case bind
        case refused(Refusal)
    }

    package let limits: Limits
    private var ready: [Pair: Allocation] = [:]
    /// Pairs whose ports are being bound, with what the request said about them.
    private var binding: [Pair: (allowed: [NodeID: IPAddress], expected: [NodeID: SocketEndpoint])] = [:]
    /// Pairs each member takes part in (ready or binding): the per-member limit without a scan.
    private var pairsOf: [NodeID: Int] = [:]

    package init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Ready allocations.
    package var count: Int { ready.count }
    /// Every ready allocation.
    package var allocations: some Collection<Allocation> { ready.values }

    package func allocation(of pair: Pair) -> Allocation? { ready[pair] }

    /// Whether `pair` is being bound.
    package func isBinding(_ pair: Pair) -> Bool { binding[pair] != nil }

    /// `requester` asks for a pair with `peer`; each may send only from its address (where the
    /// secure channel authenticated it), and `expected` says where each one's WireGuard listens.
    package mutating func request(
        requester: NodeID, requesterAddress: IPAddress, peer: NodeID, peerAddress: IPAddress,
        expected: [NodeID: SocketEndpoint] = [:], now: Timestamp
    ) -> Admission {
        guard requester != peer else { return .refused(.pairWithItself) }
        let pair = Pair(requester, peer)
        let allowed = [requester: requesterAddress, peer: peerAddress]
        if var allocation = ready[pair] {
            allocation.allowed.merge(allowed) { $1 }
            allocation.expected.merge(expected) { $1 }
            allocation.expiresAt = now + limits.lease
            ready[pair] = allocation
            return .existing(allocation)
        }
        if var pending = binding[pair] {
            pending.allowed.merge(allowed) { $1 }
            pending.expected.merge(expected) { $1 }
            binding[pair] = pending
            return .binding
        }
        if ready.count + binding.count >= limits.maximumAllocations { return .refused(.full) }
        if pairsOf[requester, default: 0] >= limits.maximumPairsPerMember { return .refused(.memberPairLimit) }
        binding[pair] = (allowed, expected)
        pairsOf[pair.low, default: 0] += 1
        pairsOf[pair.high, default: 0] += 1
        return .bind
    }

    /// The shell bound `pair`'s ports: the allocation is ready. Nil when the pair was released
    /// while its ports were being bound (the shell closes them again).
    package mutating func bound(_ pair: Pair, ports: [NodeID: UInt16], now: Timestamp) -> Allocation? {
        guard let pending = binding.removeValue(forKey: pair) else { return nil }
        let allocation = Allocation(pair: pair, ports: ports, allowed: pending.allowed, expected: pending.expected, expiresAt: now + limits.lease)
        ready[pair] = allocation
        return allocation
    }

    /// The shell could not bind `pair`'s ports: the pair is forgotten.
    package mutating func bindingFailed(_ pair: Pair) {
        guard binding.removeValue(forKey: pair) != nil else { return }
        forgetMembers(of: pair)
    }

    /// Extends a pair's lease; nil if it has no allocation.
    package mutating func renew(_ pair: Pair, now: Timestamp) -> Allocation? {
        guard var allocation = ready[pair] else { return nil }
        allocation.expiresAt = now + limits.lease
        ready[pair] = allocation
        return allocation
    }

    /// `member` was authenticated from `address`: it may send from there in every pair it is
    /// in. Returns the pairs whose address changed (the shell tells their forwarders).
    @discardableResult
    package mutating func allow(_ member: NodeID, from address: IPAddress) -> [Pair] {
        guard pairsOf[member, default: 0] > 0 else { return [] }
        var changed: [Pair] = []
        for (pair, allocation) in ready where pair.contains(member) && allocation.allowed[member] != address {
            ready[pair]?.allowed[member] = address
            changed.append(pair)
        }
        for pair in binding.keys where pair.contains(member) { binding[pair]?.allowed[member] = address }
        return changed
    }

    /// Ends `pair` (ready or binding); the allocation it had, if ready.
    @discardableResult
    package mutating func release(_ pair: Pair) -> Allocation? {
        if binding.removeValue(forKey: pair) != nil {
            forgetMembers(of: pair)
            return nil
        }
        guard let removed = ready.removeValue(forKey: pair) else { return nil }
        forgetMembers(of: pair)
        return removed
    }

    /// Ends every pair `member` is in (it left, or was revoked); the ready allocations ended.
    package mutating func release(involving member: NodeID) -> [Allocation] {
        guard pairsOf[member, default: 0] > 0 else { return [] }
        let pairs = Array(ready.keys.filter { $0.contains(member) }) + binding.keys.filter { $0.contains(member) }
        return pairs.compactMap { release($0) }
    }

    /// Ends every allocation whose lease ran out; returns them.
    package mutating func expire(now: Timestamp) -> [Allocation] {
        let due = ready.values.filter { $0.expiresAt <= now }
        for allocation in due { release(allocation.pair) }
        return due
    }

    /// Pairs `member` is in (ready).
    package func pairs(involving member: NodeID) -> [Pair] {
        guard pairsOf[member, default: 0] > 0 else { return [] }
        return ready.keys.filter { $0.contains(member) }
    }

    /// Ends everything (the relay shuts down); the ready allocations ended.
    package mutating func removeAll() -> [Allocation] {
        defer { ready.removeAll(); binding.removeAll(); pairsOf.removeAll() }
        return Array(ready.values)
    }

    private mutating func forgetMembers(of pair: Pair) {
        for member in [pair.low, pair.high] {
            let left = pairsOf[member, default: 1] - 1
            pairsOf[member] = left > 0 ? left : nil
        }
    }
}

extension RelayTable {
    /// Where a member's latched side goes when the relay authenticates the member from `address`:
    /// the same port at the new address (nil stays nil). A member that changed its own address
    /// otherwise got nothing more until it sent through the relay itself, and a member that only
    /// answers sends nothing when nothing reaches it (simulator, `renumber-relayed`: 10.5 s).
    /// meshd's forwarder and the simulator's relay model both follow it.
    package static func latched(_ latched: SocketEndpoint?, movedTo address: IPAddress) -> SocketEndpoint? {
        guard let latched, latched.address != address else { return latched }
        return SocketEndpoint(address: address, port: latched.port)
    }
}

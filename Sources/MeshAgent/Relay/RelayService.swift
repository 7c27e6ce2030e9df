#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import NIOCore
import NIOPosix
import Synchronization

/// The relay side: forwards WireGuard datagrams, unchanged, between two members that cannot reach
/// each other directly. Each pair gets two UDP ports on this host; each side's WireGuard endpoint
/// for the other points at its port, and what arrives on one port leaves from the other.
///
/// Only allocated pairs of current members are relayed (never an open relay): a port accepts
/// datagrams only from the IP address the member was authenticated from on the secure channel,
/// "latching" onto the exact source port of its WireGuard socket (a NAT may have chosen it).
/// Everything else is dropped and counted. The relay never holds a key that opens the traffic.
public final class RelayService: Sendable {
    /// Limits of this relay.
    public struct Limits: Sendable {
        /// Most pairs at once.
        public var maximumAllocations = 256
        /// Most pairs one member may have requested at once (one member cannot hold pairs with
        /// every other member). A path manager asks for one relay per peer whose direct path
        /// failed, so this is the number of such peers one member may have through this relay.
        public var maximumPairsPerMember = 32
        /// Per side of a pair, in bytes per second (token bucket with one second of burst).
        public var bytesPerSecond: UInt64 = 250_000_000
        /// How long an allocation lives without a refresh.
        public var lease = Interval.seconds(30)
        /// Ports allocations are taken from.
        public var ports: ClosedRange<UInt16> = 40000...49999
        public init() {}
    }

    /// A pair being relayed (order does not matter).
    public struct Pair: Hashable, Sendable {
        public let low: NodeID
        public let high: NodeID
        public init(_ a: NodeID, _ b: NodeID) { (low, high) = a < b ? (a, b) : (b, a) }
        public func contains(_ node: NodeID) -> Bool { node == low || node == high }
    }

    /// An allocation.
    public struct Allocation: Sendable {
        public let pair: Pair
        /// The port each member sends to.
        public let ports: [NodeID: UInt16]
        /// When it lapses unless refreshed.
        public var expiresAt: Timestamp
    }

    /// The limits in force.
    public let limits: Limits
    private let group: EventLoopGroup
    private let table = Mutex(AllocationTable())
    private let batches = Mutex<[ObjectIdentifier: SendBatch]>([:])
    /// Forwarded and dropped traffic.
    public let counters = RelayCounters()

    /// The pairs allocated, and those whose ports are being bound. A pair is in at most one of
    /// the two: a request for a pair being bound waits for that binding (when both ends of a pair
    /// asked at the same moment, checking then binding then inserting allocated the pair twice
    /// and orphaned one forwarder with two open ports).
    private struct AllocationTable {
        var ready: [Pair: (allocation: Allocation, forwarder: PairForwarder)] = [:]
        var binding: [Pair: Task<Allocation, Error>] = [:]
        var pairs: some Collection<Pair> { Array(ready.keys) + Array(binding.keys) }
    }

    /// A relay whose ports are read on `group`.
    public init(group: EventLoopGroup, limits: Limits = Limits()) {
        self.group = group
        self.limits = limits
    }

    /// Number of live allocations.
    public var allocationCount: Int { table.withLock { $0.ready.count } }

    /// Why a new pair of `requester` and `peer` may not be allocated, given the pairs allocated
    /// now (nil: it may). Pure, so the rule is unit-tested without sockets.
    static func admissionRefusal(requester: NodeID, peer: NodeID, allocated: some Collection<Pair>, limits: Limits) -> RelayError? {
        if requester == peer { return .pairWithItself }
        if allocated.count >= limits.maximumAllocations { return .full }
        let requesterPairs = allocated.reduce(0) { $0 + ($1.contains(requester) ? 1 : 0) }
        if requesterPairs >= limits.maximumPairsPerMember { return .memberPairLimit }
        return nil
    }

    /// The outcome of ``allocate(requester:requesterAddress:peer:peerAddress:now:)``.
    public struct Granted: Sendable {
        public let allocation: Allocation
        /// Whether this request created the allocation (false: the pair had one, or another
        /// request was binding it at the same moment).
        public let created: Bool
    }

    /// Allocates (or returns the existing allocation for) the pair of `requester` and `peer`, which
    /// may send only from `requesterAddress` and `peerAddress` (the addresses the secure channel
    /// authenticated them from). Requests for one pair arriving together get one allocation.
    ///
    /// `expected`: where each member's WireGuard is expected to listen (an endpoint it announces
    /// at its authenticated address). Until a side has sent (latched), what the other side sends
    /// goes there: the end that does not initiate the first handshake sends nothing before it
    /// receives, and an initiation held for it would wait for WireGuard's 5 s retry.
    public func allocate(
        requester: NodeID, requesterAddress: IPAddress, peer: NodeID, peerAddress: IPAddress,
        expected: [NodeID: SocketEndpoint] = [:], now: Timestamp
    ) async throws -> Granted {
        guard requester != peer else { throw RelayError.pairWithItself }
        let pair = Pair(requester, peer)
        enum Step { case existing, wait(Task<Allocation, Error>), bind(Task<Allocation, Error>), refused(RelayError) }
        let lease = limits.lease
        let step = table.withLock { table -> Step in
            if table.ready[pair] != nil { return .existing }
            if let binding = table.binding[pair] { return .wait(binding) }
            if let refusal = Self.admissionRefusal(requester: requester, peer: peer, allocated: table.pairs, limits: limits) {
                return .refused(refusal)
            }
            let allowed = [requester: requesterAddress, peer: peerAddress]
            let task = Task { try await self.bind(pair, allowed: allowed, expected: expected, expiresAt: now + lease) }
            table.binding[pair] = task
            return .bind(task)
        }
        let created: Bool
        switch step {
        case .existing: created = false
        case let .wait(task): _ = try await task.value; created = false
        case let .bind(task): _ = try await task.value; created = true
        case let .refused(refusal): throw refusal
        }
        guard let forwarder = table.withLock({ $0.ready[pair]?.forwarder }) else { throw RelayError.released }
        forwarder.allow(requester, from: requesterAddress, expecting: expected[requester])
        forwarder.allow(peer, from: peerAddress, expecting: expected[peer])
        guard let allocation = renew(pair, now: now) else { throw RelayError.released }
        return Granted(allocation: allocation, created: created)
    }

    /// Binds the two ports of `pair` and moves it from binding to ready (unless it was released
    /// meanwhile: then its ports are closed again).
    private func bind(_ pair: Pair, allowed: [NodeID: IPAddress], expected: [NodeID: SocketEndpoint], expiresAt: Timestamp) async throws -> Allocation {
        let loop = group.next()
        let forwarder = PairForwarder(
            pair: pair, allowed: allowed, expected: expected, loop: loop, counters: counters, bytesPerSecond: limits.bytesPerSecond, batch: batch(for: loop))
        do {
            var ports: [NodeID: UInt16] = [:]
            for (side, member) in [pair.low, pair.high].enumerated() {
                ports[member] = try await bindRandomPort(on: loop, forwarder: forwarder, side: side).port
            }
            let allocation = Allocation(pair: pair, ports: ports, expiresAt: expiresAt)
            let kept = table.withLock { table -> Bool in
                guard table.binding.removeValue(forKey: pair) != nil else { return false }
                table.ready[pair] = (allocation, forwarder)
                return true
            }
            guard kept else { throw RelayError.released }
            return allocation
        } catch {
            table.withLock { _ = $0.binding.removeValue(forKey: pair) }
            forwarder.close()
            throw error
        }
    }

    /// Extends a pair's lease; nil if it has none.
    @discardableResult
    public func renew(_ pair: Pair, now: Timestamp) -> Allocation? {
        table.withLock { table in
            guard var entry = table.ready[pair] else { return nil }
            entry.allocation.expiresAt = now + limits.lease
            table.ready[pair] = entry
            return entry.allocation
        }
    }

    /// Updates the address `member` may send from (it was authenticated from there again).
    public func allow(_ member: NodeID, in pair: Pair, from address: IPAddress) {
        table.withLock { $0.ready[pair] }?.forwarder.allow(member, from: address)
    }

    /// Whether `member` has sent to its relay port yet (the relay latched onto its WireGuard
    /// source): the sign that it switched to the relay. False for a pair without an allocation.
    public func hasLatched(_ member: NodeID, in pair: Pair) async -> Bool {
        guard let forwarder = table.withLock({ $0.ready[pair] })?.forwarder else { return false }
        return await forwarder.hasLatched(member)
    }

    /// Ends a pair's allocation and closes its ports (a pair still being bound is closed as soon
    /// as its ports are bound).
    public func release(_ pair: Pair) {
        let removed = table.withLock { table in
            table.binding[pair] = nil
            return table.ready.removeValue(forKey: pair)
        }
        removed?.forwarder.close()
    }

    /// Releases every allocation whose lease ran out; returns the pairs released.
    public func expire(now: Timestamp) -> [Pair] {
        let expired = table.withLock { table -> [(Pair, PairForwarder)] in
            let due = table.ready.filter { $0.value.allocation.expiresAt <= now }
            for pair in due.keys { table.ready[pair] = nil }
            return due.map { ($0.key, $0.value.forwarder) }
        }
        for (_, forwarder) in expired { forwarder.close() }
        return expired.map(\.0)
    }

    /// Pairs involving `member` (to release when it leaves or is revoked).
    public func pairs(involving member: NodeID) -> [Pair] {
        table.withLock { $0.ready.keys.filter { $0.contains(member) } }
    }

    /// Closes every port.
    public func shutdown() {
        let all = table.withLock { table -> [PairForwarder] in
            defer { table.ready.removeAll(); table.binding.removeAll() }
            return table.ready.values.map(\.forwarder)
        }
        for forwarder in all { forwarder.close() }
    }

    /// The send batch of `loop`, shared by every port read on it (one port's read burst is
    /// flushed before the next port is read).
    private func batch(for loop: EventLoop) -> SendBatch {
        batches.withLock { table in
            if let existing = table[ObjectIdentifier(loop)] { return existing }
            let created = SendBatch()
            table[ObjectIdentifier(loop)] = created
            return created
        }
    }

    private func bindRandomPort(on loop: EventLoop, forwarder: PairForwarder, side: Int) async throws -> UDPSocket {
        for _ in 0..<32 {
            let port = UInt16.random(in: limits.ports)
            do {
                let socket = try await UDPSocket.bind(on: loop, address: nil, port: port, receiveBuffer: 4 << 20) {
                    RelayPortHandler(forwarder: forwarder, side: side)
                }
                forwarder.attach(socket, side: side)
                return socket
            } catch let error as UDPBindError where error.code == EADDRINUSE {
                continue
            }
        }
        throw RelayError.noFreePort
    }
}

/// Why a relay could not allocate.
public enum RelayError: Error, Equatable {
    case full
    case noFreePort
    /// A member asked to relay for a pair with itself.
    case pairWithItself
    /// The requester already has ``RelayService/Limits/maximumPairsPerMember`` pairs.
    case memberPairLimit
    /// The pair was released (or the relay shut down) while its ports were being bound.
    case released
}

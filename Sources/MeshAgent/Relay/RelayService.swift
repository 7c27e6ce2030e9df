#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshAgentCore
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
    /// Limits of this relay: the table's (pairs, per member, lease) and the forwarding's.
    package struct Limits: Sendable {
        /// Who may have a pair, and for how long (the core's ``RelayTable``).
        package var table = RelayTable.Limits()
        /// Per side of a pair, in bytes per second (token bucket with one second of burst).
        package var bytesPerSecond: UInt64 = 250_000_000
        /// Ports allocations are taken from.
        package var ports: ClosedRange<UInt16> = 40000...49999
        package var maximumAllocations: Int {
            get { table.maximumAllocations }
            set { table.maximumAllocations = newValue }
        }
        package var maximumPairsPerMember: Int {
            get { table.maximumPairsPerMember }
            set { table.maximumPairsPerMember = newValue }
        }
        package var lease: Interval { table.lease }
        package init() {}
    }

    package typealias Pair = RelayTable.Pair
    package typealias Allocation = RelayTable.Allocation

    /// The limits in force.
    package let limits: Limits
    private let group: EventLoopGroup
    private let state: Mutex<State>
    private let batches = Mutex<[ObjectIdentifier: SendBatch]>([:])
    /// The fwmark of the relay's ports (``setMark(_:)``).
    private let mark = Atomic<UInt32>(0)
    /// Forwarded and dropped traffic.
    package let counters = RelayCounters()

    /// The core's table, and beside it what it cannot hold: each ready pair's forwarder and each
    /// binding pair's task (a request for a pair being bound awaits it). A binding carries an id:
    /// one that finishes after its pair was released (and perhaps requested anew) finds another
    /// id, or none, and closes its ports instead of taking the pair.
    private struct State {
        var table: RelayTable
        var forwarders: [Pair: PairForwarder] = [:]
        var bindings: [Pair: (id: UInt64, task: Task<Void, Error>)] = [:]
        var nextBinding: UInt64 = 0
    }

    /// The device the relay's ports are bound to (`underlay.bind_device`), if any.
    private let device: String?

    /// A relay whose ports are read on `group` (and bound to `device` when given).
    package init(group: EventLoopGroup, limits: Limits = Limits(), device: String? = nil) {
        self.group = group
        self.device = device
        self.limits = limits
        state = Mutex(State(table: RelayTable(limits: limits.table)))
    }

    /// Number of live allocations.
    package var allocationCount: Int { state.withLock { $0.table.count } }

    /// The outcome of ``allocate(requester:requesterAddress:peer:peerAddress:expected:now:)``.
    package struct Granted: Sendable {
        package let allocation: Allocation
        /// Whether this request created the allocation (false: the pair had one, or another
        /// request was binding it at the same moment).
        package let created: Bool
    }

    /// Allocates (or returns the existing allocation for) the pair of `requester` and `peer`, which
    /// may send only from `requesterAddress` and `peerAddress` (the addresses the secure channel
    /// authenticated them from). Requests for one pair arriving together get one allocation.
    ///
    /// `expected`: where each member's WireGuard is expected to listen (an endpoint it announces
    /// at its authenticated address). Until a side has sent (latched), what the other side sends
    /// goes there: the end that does not initiate the first handshake sends nothing before it
    /// receives, and an initiation held for it would wait for WireGuard's 5 s retry.
    package func allocate(
        requester: NodeID, requesterAddress: IPAddress, peer: NodeID, peerAddress: IPAddress,
        expected: [NodeID: SocketEndpoint] = [:], now: Timestamp
    ) async throws -> Granted {
        let pair = Pair(requester, peer)
        enum Step { case existing, wait(Task<Void, Error>), bind(Task<Void, Error>), refused(RelayTable.Refusal) }
        let step = state.withLock { state -> Step in
            switch state.table.request(
                requester: requester, requesterAddress: requesterAddress, peer: peer, peerAddress: peerAddress, expected: expected, now: now) {
            case .existing: return .existing
            case .binding:
                guard let binding = state.bindings[pair] else { return .existing }  // never: binding pairs have their task
                return .wait(binding.task)
            case .bind:
                let allowed = [requester: requesterAddress, peer: peerAddress]
                state.nextBinding += 1
                let id = state.nextBinding
                let task = Task { try await self.bind(pair, id: id, allowed: allowed, expected: expected, now: now) }
                state.bindings[pair] = (id, task)
                return .bind(task)
            case let .refused(refusal): return .refused(refusal)
            }
        }
        let created: Bool
        switch step {
        case .existing: created = false
        case let .wait(task): try await task.value; created = false
        case let .bind(task):
            try await task.value
            created = true
            counters.allocations.add(1, ordering: .relaxed)
        case let .refused(refusal):
            counters.refusals.add(1, ordering: .relaxed)
            throw RelayError(refusal)
        }
        // Whatever the requests said meanwhile (the table merged them) goes to the forwarder.
        guard let (allocation, forwarder) = state.withLock({ state in
            state.table.allocation(of: pair).flatMap { allocation in state.forwarders[pair].map { (allocation, $0) } }
        }) else { throw RelayError.released }
        for member in [pair.low, pair.high] {
            if let address = allocation.allowed[member] { forwarder.allow(member, from: address, expecting: allocation.expected[member]) }
        }
        return Granted(allocation: allocation, created: created)
    }

    /// Binds the two ports of `pair` and tells the table (unless the pair was released meanwhile:
    /// then its ports are closed again).
    private func bind(_ pair: Pair, id: UInt64, allowed: [NodeID: IPAddress], expected: [NodeID: SocketEndpoint], now: Timestamp) async throws {
        let loop = group.next()
        let forwarder = PairForwarder(
            pair: pair, allowed: allowed, expected: expected, loop: loop, counters: counters, bytesPerSecond: limits.bytesPerSecond, batch: batch(for: loop))
        do {
            var ports: [NodeID: UInt16] = [:]
            for (side, member) in [pair.low, pair.high].enumerated() {
                ports[member] = try await bindRandomPort(on: loop, forwarder: forwarder, side: side).port
            }
            let kept = state.withLock { state -> Bool in
                guard state.bindings[pair]?.id == id else { return false }
                state.bindings[pair] = nil
                guard state.table.bound(pair, ports: ports, now: now) != nil else { return false }
                state.forwarders[pair] = forwarder
                return true
            }
            guard kept else { throw RelayError.released }
        } catch {
            state.withLock { state in
                guard state.bindings[pair]?.id == id else { return }
                state.bindings[pair] = nil
                state.table.bindingFailed(pair)
            }
            forwarder.close()
            throw error
        }
    }

    /// Extends a pair's lease; nil if it has none.
    @discardableResult
    package func renew(_ pair: Pair, now: Timestamp) -> Allocation? {
        state.withLock { $0.table.renew(pair, now: now) }
    }

    /// `member` was authenticated from `address`: it may send from there in every pair it is in.
    package func allow(_ member: NodeID, from address: IPAddress) {
        let changed = state.withLock { state in state.table.allow(member, from: address).compactMap { state.forwarders[$0] } }
        for forwarder in changed { forwarder.allow(member, from: address) }
    }

    /// Whether `member` has sent to its relay port yet (the relay latched onto its WireGuard
    /// source): the sign that it switched to the relay. False for a pair without an allocation.
    package func hasLatched(_ member: NodeID, in pair: Pair) async -> Bool {
        guard let forwarder = state.withLock({ $0.forwarders[pair] }) else { return false }
        return await forwarder.hasLatched(member)
    }

    /// Ends a pair's allocation and closes its ports (a pair still being bound is closed as soon
    /// as its ports are bound).
    /// Ends `pair`; returns whether it was allocated.
    @discardableResult
    package func release(_ pair: Pair) -> Bool {
        let (removed, forwarder) = state.withLock { state in
            let removed = state.table.release(pair) != nil || state.bindings[pair] != nil
            state.bindings[pair] = nil
            return (removed, state.forwarders.removeValue(forKey: pair))
        }
        forwarder?.close()
        return removed
    }

    /// Ends every pair of `member` (it left, or was revoked).
    package func release(involving member: NodeID) {
        let removed = state.withLock { state in
            for pair in state.bindings.keys where pair.contains(member) { state.bindings[pair] = nil }
            return state.table.release(involving: member).compactMap { state.forwarders.removeValue(forKey: $0.pair) }
        }
        for forwarder in removed { forwarder.close() }
    }

    /// Releases every allocation whose lease ran out; returns the pairs released.
    package func expire(now: Timestamp) -> [Pair] {
        let expired = state.withLock { state in
            state.table.expire(now: now).map { ($0.pair, state.forwarders.removeValue(forKey: $0.pair)) }
        }
        for (_, forwarder) in expired { forwarder?.close() }
        return expired.map(\.0)
    }

    /// Pairs involving `member`.
    package func pairs(involving member: NodeID) -> [Pair] {
        state.withLock { $0.table.pairs(involving: member) }
    }

    /// Closes every port.
    package func shutdown() {
        let all = state.withLock { state -> [PairForwarder] in
            _ = state.table.removeAll()
            state.bindings.removeAll()
            defer { state.forwarders.removeAll() }
            return Array(state.forwarders.values)
        }
        for forwarder in all { forwarder.close() }
    }

    /// Marks the packets of every relay port, open and future, with `mark` (as the gossip
    /// socket's: relayed WireGuard traffic keeps the host's real routes while it uses an exit).
    package func setMark(_ mark: UInt32) {
        self.mark.store(mark, ordering: .relaxed)
        let forwarders = state.withLock { Array($0.forwarders.values) }
        for forwarder in forwarders { forwarder.setMark(mark) }
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
                let socket = try await UDPSocket.bind(on: loop, address: nil, port: port, receiveBuffer: 4 << 20, mark: mark.load(ordering: .relaxed), device: device) {
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
package enum RelayError: Error, Equatable {
    case full
    case noFreePort
    /// A member asked to relay for a pair with itself.
    case pairWithItself
    /// The requester already has ``RelayTable/Limits/maximumPairsPerMember`` pairs.
    case memberPairLimit
    /// The pair was released (or the relay shut down) while its ports were being bound.
    case released

    init(_ refusal: RelayTable.Refusal) {
        switch refusal {
        case .full: self = .full
        case .pairWithItself: self = .pairWithItself
        case .memberPairLimit: self = .memberPairLimit
        }
    }
}

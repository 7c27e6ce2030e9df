import Foundation
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
    private let allocations = Mutex<[Pair: (allocation: Allocation, forwarder: PairForwarder)]>([:])
    /// Forwarded and dropped traffic.
    public let counters = RelayCounters()

    /// A relay whose ports are read on `group`.
    public init(group: EventLoopGroup, limits: Limits = Limits()) {
        self.group = group
        self.limits = limits
    }

    /// Number of live allocations.
    public var allocationCount: Int { allocations.withLock { $0.count } }

    /// Allocates (or returns the existing allocation for) the pair of `requester` and `peer`, which
    /// may send only from `requesterAddress` and `peerAddress` (the addresses the secure channel
    /// authenticated them from).
    public func allocate(
        requester: NodeID, requesterAddress: IPAddress, peer: NodeID, peerAddress: IPAddress, now: Timestamp
    ) async throws -> Allocation {
        let pair = Pair(requester, peer)
        if let existing = allocations.withLock({ $0[pair] }) {
            existing.forwarder.allow(requester, from: requesterAddress)
            existing.forwarder.allow(peer, from: peerAddress)
            return renew(pair, now: now) ?? existing.allocation
        }
        guard allocationCount < limits.maximumAllocations else { throw RelayError.full }
        let loop = group.next()
        let forwarder = PairForwarder(counters: counters, bytesPerSecond: limits.bytesPerSecond)
        forwarder.allow(requester, from: requesterAddress)
        forwarder.allow(peer, from: peerAddress)
        var ports: [NodeID: UInt16] = [:]
        for member in [pair.low, pair.high] {
            let socket = try await bindRandomPort(on: loop, forwarder: forwarder, side: member)
            ports[member] = socket.port
        }
        let allocation = Allocation(pair: pair, ports: ports, expiresAt: now + limits.lease)
        allocations.withLock { $0[pair] = (allocation, forwarder) }
        return allocation
    }

    /// Extends a pair's lease; nil if it has none.
    @discardableResult
    public func renew(_ pair: Pair, now: Timestamp) -> Allocation? {
        allocations.withLock { table in
            guard var entry = table[pair] else { return nil }
            entry.allocation.expiresAt = now + limits.lease
            table[pair] = entry
            return entry.allocation
        }
    }

    /// Updates the address `member` may send from (it was authenticated from there again).
    public func allow(_ member: NodeID, in pair: Pair, from address: IPAddress) {
        allocations.withLock { $0[pair] }?.forwarder.allow(member, from: address)
    }

    /// Ends a pair's allocation and closes its ports.
    public func release(_ pair: Pair) {
        let removed = allocations.withLock { $0.removeValue(forKey: pair) }
        removed?.forwarder.close()
    }

    /// Releases every allocation whose lease ran out; returns the pairs released.
    public func expire(now: Timestamp) -> [Pair] {
        let expired = allocations.withLock { table -> [(Pair, PairForwarder)] in
            let due = table.filter { $0.value.allocation.expiresAt <= now }
            for pair in due.keys { table[pair] = nil }
            return due.map { ($0.key, $0.value.forwarder) }
        }
        for (_, forwarder) in expired { forwarder.close() }
        return expired.map(\.0)
    }

    /// Pairs involving `member` (to release when it leaves or is revoked).
    public func pairs(involving member: NodeID) -> [Pair] {
        allocations.withLock { $0.keys.filter { $0.contains(member) } }
    }

    /// Closes every port.
    public func shutdown() {
        let all = allocations.withLock { table -> [PairForwarder] in
            defer { table.removeAll() }
            return table.values.map(\.forwarder)
        }
        for forwarder in all { forwarder.close() }
    }

    private func bindRandomPort(on loop: EventLoop, forwarder: PairForwarder, side: NodeID) async throws -> UDPSocket {
        for _ in 0..<32 {
            let port = UInt16.random(in: limits.ports)
            do {
                let socket = try await UDPSocket.bind(on: loop, address: nil, port: port, receiveBuffer: 4 << 20) {
                    RelayPortHandler(forwarder: forwarder, side: side)
                }
                forwarder.attach(socket, side: side)
                return socket
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                continue
            }
        }
        throw RelayError.noFreePort
    }
}

/// Why a relay could not allocate.
public enum RelayError: Error {
    case full
    case noFreePort
}

/// Traffic counters of the relay (atomic: the forwarding event loops add, the agent reads).
public final class RelayCounters: Sendable {
    /// Datagrams forwarded.
    public let forwardedPackets = Atomic<UInt64>(0)
    /// Bytes forwarded.
    public let forwardedBytes = Atomic<UInt64>(0)
    /// Datagrams refused.
    public let dropped = Atomic<UInt64>(0)
}

/// The forwarding state of one pair. Both of its channels live on one event loop, so the state
/// is touched from that loop only (the agent's calls hop onto it).
final class PairForwarder: @unchecked Sendable {
    private struct Side {
        var socket: UDPSocket?
        var allowedAddress: IPAddress?
        var latched: SocketEndpoint?
        /// Datagrams that arrived before the other side latched (a WireGuard handshake, mostly).
        var waiting: [ByteBuffer] = []
        var tokens: Double
        var tokensUpdated: NIODeadline
    }

    private var sides: [NodeID: Side] = [:]
    private let counters: RelayCounters
    private let bytesPerSecond: Double
    private var closed = false

    init(counters: RelayCounters, bytesPerSecond: UInt64) {
        self.counters = counters
        self.bytesPerSecond = Double(bytesPerSecond)
    }

    private var loop: EventLoop? { sides.values.compactMap(\.socket).first?.channel.eventLoop }

    func attach(_ socket: UDPSocket, side: NodeID) {
        socket.channel.eventLoop.execute {
            self.sides[side, default: self.emptySide()].socket = socket
        }
    }

    /// Lets `member` send from `address` (its authenticated address on the secure channel).
    func allow(_ member: NodeID, from address: IPAddress) {
        let apply = { self.sides[member, default: self.emptySide()].allowedAddress = address }
        if let loop { loop.execute(apply) } else { apply() }
    }

    func close() {
        let run = {
            self.closed = true
            for side in self.sides.values {
                guard let socket = side.socket else { continue }
                Task { await socket.close() }
            }
        }
        if let loop { loop.execute(run) } else { run() }
    }

    private func emptySide() -> Side {
        Side(socket: nil, allowedAddress: nil, latched: nil, tokens: bytesPerSecond, tokensUpdated: .now())
    }

    /// A datagram from `side`'s member arrived on its port: forward it out of the other port.
    func received(_ buffer: ByteBuffer, from source: SocketEndpoint, side member: NodeID) {
        guard !closed, var mine = sides[member], let allowed = mine.allowedAddress, allowed == source.address else {
            counters.dropped.add(1, ordering: .relaxed)
            return
        }
        // Latch onto the member's WireGuard source port (its NAT may rewrite it; the newest wins).
        mine.latched = source
        // Token bucket: at most `bytesPerSecond` per side, one second of burst.
        let now = NIODeadline.now()
        let elapsed = Double((now - mine.tokensUpdated).nanoseconds) / 1e9
        mine.tokens = min(bytesPerSecond, mine.tokens + elapsed * bytesPerSecond)
        mine.tokensUpdated = now
        guard mine.tokens >= Double(buffer.readableBytes) else {
            sides[member] = mine
            counters.dropped.add(1, ordering: .relaxed)
            return
        }
        mine.tokens -= Double(buffer.readableBytes)
        guard let otherID = sides.keys.first(where: { $0 != member }), var other = sides[otherID], let otherSocket = other.socket else {
            sides[member] = mine
            return
        }
        // Flush what waited for this side to appear.
        if !mine.waiting.isEmpty, let mySocket = mine.socket {
            for waiting in mine.waiting { waiting.withUnsafeReadableBytes { _ = mySocket.send($0, to: source) } }
            mine.waiting.removeAll()
        }
        sides[member] = mine
        guard let destination = other.latched else {
            // The other side has not sent anything yet: keep the newest few datagrams for it.
            if other.waiting.count >= 4 { other.waiting.removeFirst() }
            other.waiting.append(buffer)
            sides[otherID] = other
            return
        }
        let sent = buffer.withUnsafeReadableBytes { otherSocket.send($0, to: destination) }
        if sent {
            counters.forwardedPackets.add(1, ordering: .relaxed)
            counters.forwardedBytes.add(UInt64(buffer.readableBytes), ordering: .relaxed)
        } else {
            counters.dropped.add(1, ordering: .relaxed)
        }
    }
}

/// The pipeline handler of one relay port.
private final class RelayPortHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let forwarder: PairForwarder
    let side: NodeID

    init(forwarder: PairForwarder, side: NodeID) {
        self.forwarder = forwarder
        self.side = side
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let source = SocketEndpoint(envelope.remoteAddress) else { return }
        forwarder.received(envelope.data, from: source, side: side)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A failed send (the other side vanished) must not close the port.
    }
}

import MeshCore
import MeshAgentCore
import NIOCore
import NIOPosix
import Synchronization

/// The forwarding state of one pair. Both of its ports are read on one event loop, fixed when the
/// pair is allocated, and the mutable state lives in a `NIOLoopBoundBox` of that loop: it is read
/// and written only there (every other caller hops onto the loop), which the box checks.
///
/// The hot path (``received(_:from:side:)``) allocates nothing: the sides are two slots mutated in
/// place, and the datagram is copied into the loop's ``SendBatch``, which the port's
/// `channelReadComplete` flushes — one `sendmmsg` (with UDP GSO for runs of equal-sized
/// datagrams) per read burst instead of one `sendto` per datagram.
final class PairForwarder: Sendable {
    private struct Side {
        var socket: UDPSocket?
        var allowedAddress: IPAddress?
        /// Where the member's WireGuard is expected (at its allowed address): the destination
        /// until it latches.
        var expected: SocketEndpoint?
        var latched: SocketEndpoint?
        /// Datagrams that arrived before the other side latched (a WireGuard handshake, mostly).
        var waiting: [(datagram: ByteBuffer, arrived: NIODeadline)] = []
        /// At most `bytesPerSecond` forwarded from this side, one second of burst.
        var bytes: TokenBucket
    }

    private struct State {
        /// The pair's two sides: index 0 is `pair.low`, 1 is `pair.high`.
        var sides: [Side]
        var closed = false
    }

    let pair: RelayService.Pair
    /// The loop both ports are read on, and the only place ``state`` is touched.
    let loop: EventLoop
    private let state: NIOLoopBoundBox<State>
    private let counters: RelayCounters
    /// Shared by the ports read on ``loop`` (a loop-confined batch: see ``SendBatch``).
    private let batch: SendBatch

    /// `allowed`: the address each member may send from, from the first datagram on (a later
    /// ``allow(_:from:)`` hops onto the loop, which may read a datagram before it runs the hop).
    init(pair: RelayService.Pair, allowed: [NodeID: IPAddress], expected: [NodeID: SocketEndpoint] = [:], loop: EventLoop, counters: RelayCounters, bytesPerSecond: UInt64, batch: SendBatch) {
        self.pair = pair
        self.loop = loop
        self.counters = counters
        self.batch = batch
        let now = NIODeadline.now()
        let sides = [pair.low, pair.high].map {
            Side(
                allowedAddress: allowed[$0], expected: Self.expected(expected[$0], at: allowed[$0]),
                bytes: TokenBucket(rate: Double(bytesPerSecond), burst: Double(bytesPerSecond), at: now.uptimeNanoseconds))
        }
        state = NIOLoopBoundBox.makeBoxSendingValue(State(sides: sides), eventLoop: loop)
    }

    /// The slot of `member` (0 or 1), nil for a node outside the pair.
    func side(of member: NodeID) -> Int? {
        pair.low == member ? 0 : pair.high == member ? 1 : nil
    }

    /// Sets side `side`'s port; what arrived for that side before (the loop may read a datagram
    /// before it runs this) leaves now if the side has a destination.
    func attach(_ socket: UDPSocket, side: Int) {
        loop.execute {
            self.state.withValue { state in
                state.sides[side].socket = socket
                guard let destination = state.sides[side].latched ?? state.sides[side].expected else { return }
                for datagram in Self.fresh(state.sides[side].waiting, now: .now()) {
                    datagram.withUnsafeReadableBytes { _ = socket.send($0, to: destination) }
                }
                state.sides[side].waiting.removeAll()
            }
        }
    }

    /// An expected endpoint counts only at the member's allowed address: the relay never sends
    /// a member's traffic anywhere else.
    private static func expected(_ endpoint: SocketEndpoint?, at address: IPAddress?) -> SocketEndpoint? {
        guard let endpoint, endpoint.address == address, endpoint.port != 0 else { return nil }
        return endpoint
    }

    /// How long a datagram waits for its side to latch. A stale handshake initiation delivered
    /// late crosses the initiation that side is sending by then (each end consumes the other's and
    /// drops the response to its own: nothing moves until WireGuard's 5 s retry).
    static let waitingLifetime = TimeAmount.milliseconds(250)

    /// The waiting datagrams still fresh at `now`.
    private static func fresh(_ waiting: [(datagram: ByteBuffer, arrived: NIODeadline)], now: NIODeadline) -> [ByteBuffer] {
        waiting.filter { now - $0.arrived < waitingLifetime }.map(\.datagram)
    }

    /// Lets `member` send from `address` (its authenticated address on the secure channel), and
    /// sets where its WireGuard is expected until it latches (kept when nil). A side latched at
    /// another address moves to `address` (``RelayTable/latched(_:movedTo:)``).
    func allow(_ member: NodeID, from address: IPAddress, expecting endpoint: SocketEndpoint? = nil) {
        guard let side = side(of: member) else { return }
        loop.execute {
            self.state.withValue { state in
                state.sides[side].allowedAddress = address
                state.sides[side].latched = RelayTable.latched(state.sides[side].latched, movedTo: address)
                if let expected = Self.expected(endpoint, at: address) {
                    state.sides[side].expected = expected
                } else if state.sides[side].expected?.address != address {
                    state.sides[side].expected = nil
                }
            }
        }
    }

    /// Whether `member`'s side has latched (sent from its WireGuard port).
    func hasLatched(_ member: NodeID) async -> Bool {
        guard let side = side(of: member) else { return false }
        return (try? await loop.submit { self.state.withValue { $0.sides[side].latched != nil } }.get()) ?? false
    }

    /// Marks both ports' packets with `mark` (see ``RelayService/setMark(_:)``).
    func setMark(_ mark: UInt32) {
        loop.execute {
            for socket in self.state.withValue({ $0.sides.compactMap(\.socket) }) { socket.setMark(mark) }
        }
    }

    func close() {
        loop.execute {
            let sockets = self.state.withValue { state -> [UDPSocket] in
                state.closed = true
                return state.sides.compactMap(\.socket)
            }
            for socket in sockets { Task { await socket.close() } }
        }
    }

    /// A datagram from side `side`'s member arrived on its port: queue it to leave from the other
    /// port (sent when the read burst ends). Runs on ``loop``.
    func received(_ buffer: ByteBuffer, from source: SocketEndpoint, side: Int) {
        let outcome = state.withValue { state -> SendBatch.Outcome? in
            guard !state.closed, let allowed = state.sides[side].allowedAddress, allowed == source.address else {
                counters.dropped.add(1, ordering: .relaxed)
                counters.unauthorized.add(1, ordering: .relaxed)
                return nil
            }
            // Latch onto the member's WireGuard source port (its NAT may rewrite it; the newest wins).
            state.sides[side].latched = source
            let now = NIODeadline.now()
            guard state.sides[side].bytes.take(Double(buffer.readableBytes), at: now.uptimeNanoseconds) else {
                counters.dropped.add(1, ordering: .relaxed)
                return nil
            }
            let other = 1 - side
            // Flush what waited for this side to appear.
            if !state.sides[side].waiting.isEmpty, let mySocket = state.sides[side].socket {
                for datagram in Self.fresh(state.sides[side].waiting, now: now) {
                    datagram.withUnsafeReadableBytes { _ = mySocket.send($0, to: source) }
                }
                state.sides[side].waiting.removeAll()
            }
            guard let destination = state.sides[other].latched ?? state.sides[other].expected, let otherSocket = state.sides[other].socket else {
                // The other side has not sent anything yet: keep the newest few datagrams for it.
                if state.sides[other].waiting.count >= 4 { state.sides[other].waiting.removeFirst() }
                state.sides[other].waiting.append((buffer, now))
                return nil
            }
            return buffer.withUnsafeReadableBytes { batch.append($0, to: destination, through: otherSocket) }
        }
        if let outcome { account(outcome) }
    }

    /// The read burst of one of the ports ended: send what it queued. Runs on ``loop``.
    func readComplete() {
        account(batch.flush())
    }

    private func account(_ outcome: SendBatch.Outcome) {
        if outcome.packets > 0 {
            counters.forwardedPackets.add(UInt64(outcome.packets), ordering: .relaxed)
            counters.forwardedBytes.add(UInt64(outcome.bytes), ordering: .relaxed)
        }
        if outcome.failed > 0 { counters.dropped.add(UInt64(outcome.failed), ordering: .relaxed) }
    }
}

/// The pipeline handler of one relay port.
final class RelayPortHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let forwarder: PairForwarder
    let side: Int

    init(forwarder: PairForwarder, side: Int) {
        self.forwarder = forwarder
        self.side = side
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let source = SocketEndpoint(envelope.remoteAddress) else { return }
        forwarder.received(envelope.data, from: source, side: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        forwarder.readComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A failed send (the other side vanished) must not close the port.
    }
}

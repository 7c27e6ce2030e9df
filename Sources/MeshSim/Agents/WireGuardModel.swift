import MeshCore

/// What travels in a simulated WireGuard datagram. The sender is inside the encryption, so the
/// receiver knows it for sure (WireGuard's cryptokey routing), whatever the source address.
enum WireGuardPacket: Equatable {
    /// A handshake initiation (148 bytes on the wire).
    case initiation(sender: Int, id: UInt64)
    /// A response to the initiation `id` (92 bytes).
    case response(sender: Int, id: UInt64, session: UInt64)
    /// Transport data in `session` (32 bytes of overhead; a keepalive is empty).
    case data(sender: Int, session: UInt64, payload: Payload)

    /// What the tunnel carries in the simulation.
    enum Payload: Equatable {
        case keepalive
        /// The nudge meshd sends into a tunnel to make WireGuard act at once.
        case nudge
        case ping(UInt32)
        case pong(UInt32)
    }

    /// Size on the wire, for byte counters.
    var size: UInt64 {
        switch self {
        case .initiation: return 148
        case .response: return 92
        case .data(_, _, .keepalive): return 32
        case .data: return 32 + 84
        }
    }
}

/// A model of one host's WireGuard device, faithful where paths depend on it:
///
/// - A handshake is one initiation and one response. An initiation that arrives replaces the
///   receiver's handshake state, so when two initiations cross, each end answers the other's and
///   drops the response to its own; both hold a responder session that may not send before the
///   initiator's first data, and nothing moves until a retransmission.
/// - Without a session, data waits in a queue and an initiation is sent; it is sent again every
///   5 s plus up to 333 ms of jitter (REKEY_TIMEOUT) while data waits.
/// - A session lives 180 s (REJECT_AFTER_TIME); the initiator re-keys after 120 s of use.
/// - The peer's endpoint follows the source of every authenticated packet (roaming).
/// - A persistent keepalive sends an empty packet when nothing was sent for that long, and one
///   at once when it is turned on.
/// - Counters: bytes received and sent per peer, and the time of the last completed handshake
///   (for a responder, once the initiator's first data arrived).
struct WireGuardModel {
    /// One peer's state, as the device has it.
    struct Peer {
        var endpoint: SocketEndpoint?
        var keepalive: Interval = .zero
        var session: UInt64?
        var sessionAt = Timestamp.zero
        /// A responder's session may send only once the initiator's first data arrived.
        var confirmed = false
        var initiator = false
        var previousSession: UInt64?
        /// The outstanding initiation this device sent (nil once answered or replaced).
        var initiation: UInt64?
        /// When the retransmission timer fires (nil: not armed).
        var retransmitAt: Timestamp?
        var queue: [WireGuardPacket.Payload] = []
        var receivedBytes: UInt64 = 0
        var transmittedBytes: UInt64 = 0
        var lastHandshake: Timestamp?
        var lastSent = Timestamp.zero
    }

    static let rekeyTimeout = Interval.seconds(5)
    static let rekeyJitter = Interval.milliseconds(333)
    static let rejectAfter = Interval.seconds(180)
    static let rekeyAfter = Interval.seconds(120)
    static let queueLimit = 16

    /// This host's index.
    let index: Int
    /// Where this device listens.
    let listen: SocketEndpoint
    private(set) var peers: [Int: Peer] = [:]
    /// Payloads that arrived through the tunnel, for the host's "application".
    private(set) var delivered: [(from: Int, payload: WireGuardPacket.Payload)] = []
    /// Datagrams to send: (to, packet).
    private(set) var outbox: [(to: SocketEndpoint, packet: WireGuardPacket)] = []
    private var nextID: UInt64

    init(index: Int, listen: SocketEndpoint) {
        self.index = index
        self.listen = listen
        nextID = UInt64(index + 1) << 40
    }

    // MARK: Configuration (what meshd does through netlink or UAPI)

    /// Adds or updates a peer: its endpoint (nil keeps the current one) and keepalive.
    mutating func configure(_ peer: Int, endpoint: SocketEndpoint?, keepalive: Interval, now: Timestamp, random: inout SeededRandomNumberGenerator) {
        var state = peers[peer] ?? Peer()
        if let endpoint { state.endpoint = endpoint }
        let turnedOn = state.keepalive == .zero && keepalive > .zero
        state.keepalive = keepalive
        peers[peer] = state
        if turnedOn { send(.keepalive, to: peer, now: now, random: &random) }
    }

    /// Removes a peer and everything the device knew of it.
    mutating func remove(_ peer: Int) { peers[peer] = nil }

    // MARK: Traffic

    /// Sends `payload` into the tunnel towards `peer`.
    mutating func send(_ payload: WireGuardPacket.Payload, to peer: Int, now: Timestamp, random: inout SeededRandomNumberGenerator) {
        guard var state = peers[peer], let endpoint = state.endpoint else { return }
        defer { peers[peer] = state }
        if let session = state.session, state.confirmed, now - state.sessionAt < Self.rejectAfter {
            emit(.data(sender: index, session: session, payload: payload), to: endpoint, state: &state, now: now)
            if state.initiator, now - state.sessionAt >= Self.rekeyAfter, state.initiation == nil { initiate(&state, now: now, random: &random) }
            return
        }
        if state.queue.count < Self.queueLimit { state.queue.append(payload) }
        if state.initiation == nil, state.retransmitAt == nil { initiate(&state, now: now, random: &random) }
    }

    private mutating func initiate(_ state: inout Peer, now: Timestamp, random: inout SeededRandomNumberGenerator) {
        guard let endpoint = state.endpoint else { return }
        nextID += 1
        state.initiation = nextID
        let jitter = UInt64.random(in: 0...Self.rekeyJitter.nanoseconds, using: &random)
        state.retransmitAt = now + Self.rekeyTimeout + Interval(nanoseconds: jitter)
        emit(.initiation(sender: index, id: nextID), to: endpoint, state: &state, now: now)
    }

    private mutating func emit(_ packet: WireGuardPacket, to endpoint: SocketEndpoint, state: inout Peer, now: Timestamp) {
        state.transmittedBytes += packet.size
        state.lastSent = now
        outbox.append((endpoint, packet))
    }

    /// A datagram arrived at this device's port from `source`.
    mutating func receive(_ packet: WireGuardPacket, from source: SocketEndpoint, now: Timestamp, random: inout SeededRandomNumberGenerator) {
        switch packet {
        case let .initiation(sender, id):
            guard var state = peers[sender] else { return }  // unknown key: dropped
            state.receivedBytes += packet.size
            state.endpoint = source
            // The handshake state now answers this initiation: our own outstanding one is lost
            // (its response will not match); the retransmission timer stays armed.
            state.initiation = nil
            nextID += 1
            state.previousSession = state.session
            state.session = nextID
            state.sessionAt = now
            state.confirmed = false
            state.initiator = false
            emit(.response(sender: index, id: id, session: nextID), to: source, state: &state, now: now)
            peers[sender] = state
        case let .response(sender, id, session):
            guard var state = peers[sender], state.initiation == id else { return }  // not ours (anymore): dropped
            state.receivedBytes += packet.size
            state.endpoint = source
            state.initiation = nil
            state.retransmitAt = nil
            state.previousSession = state.session
            state.session = session
            state.sessionAt = now
            state.confirmed = true
            state.initiator = true
            state.lastHandshake = now
            let queued = state.queue.isEmpty ? [.keepalive] : state.queue
            state.queue = []
            for payload in queued { emit(.data(sender: index, session: session, payload: payload), to: source, state: &state, now: now) }
            peers[sender] = state
        case let .data(sender, session, payload):
            guard var state = peers[sender], session == state.session || session == state.previousSession,
                  now - state.sessionAt < Self.rejectAfter || session == state.previousSession
            else { return }
            state.receivedBytes += packet.size
            state.endpoint = source
            if session == state.session, !state.confirmed {
                // The handshake is complete for the responder only now (its last handshake time too).
                state.confirmed = true
                state.lastHandshake = now
                state.retransmitAt = nil
                let queued = state.queue
                state.queue = []
                for queuedPayload in queued {
                    emit(.data(sender: index, session: session, payload: queuedPayload), to: source, state: &state, now: now)
                }
            }
            peers[sender] = state
            if payload != .keepalive { delivered.append((sender, payload)) }
        }
    }

    // MARK: Timers

    /// Retransmissions and keepalives due at `now`.
    mutating func tick(now: Timestamp, random: inout SeededRandomNumberGenerator) {
        for peer in peers.keys.sorted() {
            guard var state = peers[peer] else { continue }
            if let due = state.retransmitAt, now >= due {
                state.retransmitAt = nil
                if !state.queue.isEmpty || state.keepalive > .zero { initiate(&state, now: now, random: &random) }
            }
            peers[peer] = state
            if state.keepalive > .zero, now - state.lastSent >= state.keepalive { send(.keepalive, to: peer, now: now, random: &random) }
        }
    }

    /// The earliest time ``tick(now:random:)`` has something to do.
    var nextDeadline: Timestamp {
        var next = Timestamp.distantFuture
        for state in peers.values {
            if let due = state.retransmitAt { next = min(next, due) }
            if state.keepalive > .zero { next = min(next, state.lastSent + state.keepalive) }
        }
        return next
    }

    /// Takes the datagrams and delivered payloads produced so far.
    mutating func drain() -> (outbox: [(to: SocketEndpoint, packet: WireGuardPacket)], delivered: [(from: Int, payload: WireGuardPacket.Payload)]) {
        defer { outbox = []; delivered = [] }
        return (outbox, delivered)
    }
}

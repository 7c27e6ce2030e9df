import MeshCore
import MeshCrypto

/// Which end of a pair starts the first WireGuard handshake, and when a peer never heard from is
/// re-created so that WireGuard initiates at once (it otherwise waits 5 s between attempts).
///
/// Both ends acting at once is what made a relayed start slow: when both switch to a relay
/// within milliseconds and both initiate, the initiations cross; each end consumes the other's,
/// drops the response to its own, and nothing moves until WireGuard's 5 s retransmission. So for
/// a pair without a session only one end — the one whose WireGuard key sorts first — initiates
/// at once (re-creating the peer, nudging it, turning keepalives on); the other stays silent for
/// ``Timing/responderSilence`` and initiates only if it still has heard nothing by then (the
/// initiator's packets were lost, dropped by this end's NAT, or the initiator does not know it yet).
///
/// A peer just added is different: both ends learn of each other at different times (gossip), so
/// they rarely cross, and two hosts behind NAT need both to send to punch through; both initiate.
///
/// Sans-I/O: fed with "peer added or moved" and the device's view of which peers were heard from.
package struct FirstHandshakes {
    /// Every delay of the first handshake, in one place.
    package struct Timing {
        /// The initiator re-creates a peer still silent this long after it was added or moved: a
        /// handshake takes one round trip, and the first initiation is often lost (it reached the
        /// other end before that end had learned of this node from gossip, or before its
        /// interface existed). Three tries, then WireGuard's own retries take over.
        package var initiatorRetries: [Interval] = [.milliseconds(500), .milliseconds(1500), .seconds(3)]
        /// The other end stays silent this long, and then initiates only if nothing has arrived:
        /// longer than half a round trip on another continent (the initiator's packet would have
        /// arrived), short enough that two hosts behind NAT still punch through directly (the
        /// initiator's first packet is dropped by the other end's NAT; the other end's own packet
        /// then opens its mapping and passes the initiator's).
        package var responderSilence = Interval.milliseconds(300)
        /// After its silence, the other end re-creates a peer it has heard nothing from at these
        /// offsets (each at least 0.2 s from the initiator's, so the two do not cross).
        package var responderRetries: [Interval] = [.milliseconds(300), .seconds(1), .milliseconds(2250)]
        /// For a peer just added (both ends initiate), the end whose key sorts second re-creates
        /// this much later than the other: when both are still silent at the same moment (each
        /// tried an endpoint that did not answer, then both moved to each other's outside
        /// endpoint), re-creating together made their initiations cross and stall both until the
        /// next try. Staggered, the first end's initiation opens its own NAT, and the second's
        /// passes it (simulator, `nat` scenario, 200 seeds: first reply 1.62 s median before).
        package var secondEndStagger = Interval.milliseconds(300)
        /// Every delay above is for a path whose round trip is short. On a longer one (a relay
        /// on another continent, or hosts slow to answer) each is pushed back by as much as this
        /// many round trips exceed the first retry: a handshake takes one round trip, and a
        /// re-creation before its response arrives throws that handshake away (seen in the
        /// simulator with 150 ms links: the initiator re-created 0.5 s after initiating, the
        /// response came 0.6 s after, and the start took 2.5 s instead of 1.9 s; and in the VM,
        /// where every hop is slow, both ends re-created before anything arrived and crossed).
        package var roundTripsPerTry = 2.0
        /// A moved peer is re-created at most once in this long (longer than WireGuard's 5 s
        /// retry and the first-handshake schedule, short against a path's retry backoff).
        package var moveSpacing = Interval.seconds(30)
    }

    /// How an end takes part in a peer's first handshake.
    private enum Role {
        /// A peer just added: both ends initiate (their packets open each other's NAT mappings,
        /// and the two ends learn of each other at different times, so they rarely cross); each
        /// re-creates only a peer it has received nothing from. (Re-creating after bytes arrived,
        /// to break crossed initiations, once cost a joining host 24.6 s to one peer in the join
        /// benchmark: the peer's session was dropped before its first data arrived.)
        case both
        /// A peer moved (to a relay, say) at the same moment at both ends: this end initiates.
        case initiator
        /// …and the other end waits.
        case responder
    }

    private struct Entry {
        var since: Timestamp
        var attempts: Int
        let role: Role
        /// Re-creations come ``Timing/secondEndStagger`` later (``Role/both``, key sorting second).
        var staggered = false
        /// Added to every delay: how much longer than usual the path's round trip makes a try.
        var slowPath = Interval.zero
        var initiator: Bool { role != .responder }
    }

    package let ownKey: X25519PublicKey
    package var timing = Timing()
    private var waiting: [X25519PublicKey: Entry] = [:]

    package init(ownKey: X25519PublicKey) {
        self.ownKey = ownKey
    }

    /// Whether this end initiates the first handshake with `peer` (both ends agree: the lower key).
    package func isInitiator(towards peer: X25519PublicKey) -> Bool {
        ownKey.bytes.lexicographicallyPrecedes(peer.bytes)
    }

    /// Peers waiting for their first handshake.
    package var count: Int { waiting.count }

    /// Whether `peer` waits for its first handshake.
    package func isWaiting(_ peer: X25519PublicKey) -> Bool { waiting[peer] != nil }

    /// `peer`, without a handshake, was added (`moved` false) or given a new endpoint at both
    /// ends at once (`moved` true: it was rerouted): its schedule starts now. A peer moved again
    /// within ``Timing/moveSpacing`` of its last move is left to WireGuard's own retries (returns
    /// false): a peer that never answers WireGuard but flaps between paths was otherwise re-created
    /// and nudged at every flap, and each nudge was traffic that started the next round of probes
    /// (at 1,000 such peers, half a core).
    /// `roundTrip`: the path's round trip as far as known (through a relay, both legs), which
    /// stretches every delay of a slow path (``Timing/roundTripsPerTry``).
    @discardableResult
    package mutating func start(_ peer: X25519PublicKey, now: Timestamp, moved: Bool = true, roundTrip: Interval? = nil) -> Bool {
        if moved {
            if let last = movedAt[peer], now - last < timing.moveSpacing { return false }
            if movedAt.count >= Self.maximumRemembered { movedAt = movedAt.filter { now - $0.value < timing.moveSpacing } }
            if movedAt.count < Self.maximumRemembered { movedAt[peer] = now }
        }
        let role: Role = !moved ? .both : isInitiator(towards: peer) ? .initiator : .responder
        waiting[peer] = Entry(since: now, attempts: 0, role: role, staggered: role == .both && !isInitiator(towards: peer),
                              slowPath: slowPathAllowance(roundTrip))
        return true
    }

    /// How much a path with round trip `roundTrip` pushes back every delay: nothing on a short
    /// one, otherwise enough that the first retry comes ``Timing/roundTripsPerTry`` round trips
    /// after the first try (capped at WireGuard's own 5 s retry, which then takes over anyway).
    func slowPathAllowance(_ roundTrip: Interval?) -> Interval {
        guard let roundTrip, let first = timing.initiatorRetries.first else { return .zero }
        let wanted = min(roundTrip.seconds * timing.roundTripsPerTry, 5)
        return .seconds(max(0, wanted - first.seconds))
    }

    /// When each peer's schedule last started because it moved (capped at ``maximumRemembered``).
    private var movedAt: [X25519PublicKey: Timestamp] = [:]
    package static let maximumRemembered = 16_384

    /// `peer` was heard from, or is gone.
    package mutating func finish(_ peer: X25519PublicKey) {
        waiting[peer] = nil
    }

    /// Whether this end may make WireGuard send to `peer` now (nudge it, turn its keepalive on):
    /// always once a session exists or the peer is not tracked; while it waits for its first
    /// handshake, the initiator at once and the other end only after its silence.
    package func mayInitiate(_ peer: X25519PublicKey, now: Timestamp) -> Bool {
        guard let entry = waiting[peer], !entry.initiator else { return true }
        return entry.attempts > 0 || now - entry.since >= timing.responderSilence + entry.slowPath
    }

    /// Whether anything is scheduled (the caller reads the device only then).
    package func anyDue(now: Timestamp) -> Bool {
        waiting.values.contains { now - $0.since >= delay(for: $0) }
    }

    /// When ``anyDue(now:)`` next turns true (`distantFuture`: nobody waits).
    package var nextDeadline: Timestamp {
        waiting.values.lazy.map { $0.since + self.delay(for: $0) }.min() ?? .distantFuture
    }

    /// What the device has seen of a peer.
    package enum Contact {
        /// Nothing arrived.
        case nothing
        /// Bytes arrived (an initiation, say), but no handshake completed.
        case received
        /// A handshake completed.
        case handshake
    }

    /// The peers to re-create now. `contact(peer)`: what the device has seen of it (nil: the
    /// device has no such peer). The initiator re-creates a peer until a handshake completes:
    /// having received bytes without one means the two initiations crossed (each end consumed the
    /// other's and dropped the response to its own) and a fresh initiation breaks the tie. The
    /// other end re-creates only a peer it has received nothing from: one that received an
    /// initiation may hold a session the initiator already uses (a responder's handshake completes
    /// only at the first data packet), and re-creating it would drop that session for up to 15 s.
    /// Peers past their last try, heard from enough, or gone stop being tracked.
    package mutating func due(now: Timestamp, contact: (X25519PublicKey) -> Contact?) -> [X25519PublicKey] {
        var recreate: [X25519PublicKey] = []
        for (peer, entry) in waiting where now - entry.since >= delay(for: entry) {
            let retries = entry.initiator ? timing.initiatorRetries : timing.responderRetries
            let silent: Bool
            switch contact(peer) {
            case .nothing?: silent = true
            // Crossed initiations are broken by the end whose key sorts first, for moved and for
            // new peers alike (new peers crossed too when both ends started together: nothing
            // moved until WireGuard's 5 s retry, 10 s when the retries crossed again).
            case .received?: silent = entry.role != .responder && isInitiator(towards: peer)
            case .handshake?, nil: silent = false
            }
            guard silent, entry.attempts < retries.count else {
                waiting[peer] = nil
                continue
            }
            waiting[peer]?.attempts += 1
            recreate.append(peer)
        }
        return recreate.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    private func delay(for entry: Entry) -> Interval {
        let retries = entry.initiator ? timing.initiatorRetries : timing.responderRetries
        return retries[min(entry.attempts, retries.count - 1)] + (entry.staggered ? timing.secondEndStagger : .zero) + entry.slowPath
    }
}

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
/// initiator's packets were lost, or the initiator does not know it yet).
///
/// Sans-I/O: fed with "peer added or moved" and the device's view of which peers were heard from.
struct FirstHandshakes {
    /// Every delay of the first handshake, in one place.
    struct Timing {
        /// The initiator re-creates a peer still silent this long after it was added or moved: a
        /// handshake takes one round trip, and the first initiation is often lost (it reached the
        /// other end before that end had learned of this node from gossip, or before its
        /// interface existed). Three tries, then WireGuard's own retries take over.
        var initiatorRetries: [Interval] = [.milliseconds(500), .milliseconds(1500), .seconds(3)]
        /// The other end stays silent this long: longer than a handshake round trip through a
        /// relay on another continent, short enough that a lost initiation costs under a second more.
        var responderSilence = Interval.seconds(1)
        /// After its silence, the other end re-creates the peer at these offsets (each at least
        /// 0.5 s from the initiator's, so the two never cross again).
        var responderRetries: [Interval] = [.seconds(1), .milliseconds(2250), .seconds(4)]
    }

    private struct Entry {
        var since: Timestamp
        var attempts: Int
        let initiator: Bool
    }

    let ownKey: X25519PublicKey
    var timing = Timing()
    private var waiting: [X25519PublicKey: Entry] = [:]

    init(ownKey: X25519PublicKey) {
        self.ownKey = ownKey
    }

    /// Whether this end initiates the first handshake with `peer` (both ends agree: the lower key).
    func isInitiator(towards peer: X25519PublicKey) -> Bool {
        ownKey.bytes.lexicographicallyPrecedes(peer.bytes)
    }

    /// Peers waiting for their first handshake.
    var count: Int { waiting.count }

    /// Whether `peer` waits for its first handshake.
    func isWaiting(_ peer: X25519PublicKey) -> Bool { waiting[peer] != nil }

    /// `peer`, never heard from, was added or given a new endpoint: its schedule starts now.
    mutating func start(_ peer: X25519PublicKey, now: Timestamp) {
        waiting[peer] = Entry(since: now, attempts: 0, initiator: isInitiator(towards: peer))
    }

    /// `peer` was heard from, or is gone.
    mutating func finish(_ peer: X25519PublicKey) {
        waiting[peer] = nil
    }

    /// Whether this end may make WireGuard send to `peer` now (nudge it, turn its keepalive on):
    /// always once a session exists or the peer is not tracked; while it waits for its first
    /// handshake, the initiator at once and the other end only after its silence.
    func mayInitiate(_ peer: X25519PublicKey, now: Timestamp) -> Bool {
        guard let entry = waiting[peer], !entry.initiator else { return true }
        return entry.attempts > 0 || now - entry.since >= timing.responderSilence
    }

    /// Whether anything is scheduled (the caller reads the device only then).
    func anyDue(now: Timestamp) -> Bool {
        waiting.values.contains { now - $0.since >= delay(for: $0) }
    }

    /// The peers to re-create now. `heardFrom(peer)`: whether the device has a handshake or
    /// received bytes for it (nil: the device has no such peer); peers heard from or gone stop
    /// being tracked, and so do peers past their last try.
    mutating func due(now: Timestamp, heardFrom: (X25519PublicKey) -> Bool?) -> [X25519PublicKey] {
        var recreate: [X25519PublicKey] = []
        for (peer, entry) in waiting where now - entry.since >= delay(for: entry) {
            let retries = entry.initiator ? timing.initiatorRetries : timing.responderRetries
            guard heardFrom(peer) == false, entry.attempts < retries.count else {
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
        return retries[min(entry.attempts, retries.count - 1)]
    }
}

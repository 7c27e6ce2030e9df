/// This node's verdict on a member.
public enum MemberStatus: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Answering probes (or not yet suspected).
    case alive = 0
    /// Missed a probe; dead when the suspicion timeout expires unless it refutes.
    case suspect = 1
    /// Declared failed. Kept as a tombstone; a newer record from the node revives it.
    case dead = 2
    /// Left the network (its own signed tombstone).
    case left = 3
    /// Revoked by the authority; never revived.
    case revoked = 4

    public var description: String {
        switch self {
        case .alive: return "alive"
        case .suspect: return "suspect"
        case .dead: return "dead"
        case .left: return "left"
        case .revoked: return "revoked"
        }
    }

    /// Alive or suspect: probed, gossiped to, configured as a peer.
    public var isLive: Bool { self == .alive || self == .suspect }

    /// The class anti-entropy compares: suspicion is local and transient, so it counts as alive.
    var syncClass: UInt64 {
        switch self {
        case .alive, .suspect: return 0
        case .dead: return 1
        case .left: return 2
        case .revoked: return 3
        }
    }
}

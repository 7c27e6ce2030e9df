import MeshCore

/// The agent's periodic chores, without I/O: each is due a fixed interval after it last ran. The
/// shell runs the due ones when it wakes and folds ``nextDeadline`` into the time it sleeps until
/// (one deadline-driven loop: nothing ticks on a fixed period).
package struct PeriodicChores {
    package enum Chore: CaseIterable {
        /// Which relays this node reaches: announced when it changed (``AgentTiming/relayReachabilityCheck``).
        case relayReachability
        /// Relay leases past their expiry are released (``AgentTiming/relayExpiryCheck``).
        case relayExpiry
        /// Freed heap goes back to the system (``AgentTiming/heapTrimInterval``).
        case heapTrim

        package var interval: Interval {
            switch self {
            case .relayReachability: AgentTiming.relayReachabilityCheck
            case .relayExpiry: AgentTiming.relayExpiryCheck
            case .heapTrim: AgentTiming.heapTrimInterval
            }
        }
    }

    /// When each chore is next due (all at once at the start).
    private var due: [Chore: Timestamp] = [:]

    package init() {}

    /// The chores due at `now`, each rescheduled one interval on.
    package mutating func takeDue(now: Timestamp) -> [Chore] {
        Chore.allCases.filter { chore in
            guard now >= due[chore, default: .zero] else { return false }
            due[chore] = now + chore.interval
            return true
        }
    }

    /// When the next chore is due.
    package var nextDeadline: Timestamp {
        Chore.allCases.map { due[$0, default: .zero] }.min() ?? .distantFuture
    }
}

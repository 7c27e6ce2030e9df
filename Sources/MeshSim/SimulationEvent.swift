import MeshCore

/// Something due at a virtual time: a datagram arriving, or a node's timer.
struct SimulationEvent: Comparable {
    enum Kind {
        case deliver(node: Int, datagram: [UInt8], from: SocketEndpoint)
        case wake(node: Int)
    }

    let time: Timestamp
    /// Tie-breaker: events at the same time run in the order they were scheduled.
    let sequence: UInt64
    let kind: Kind

    static func < (lhs: SimulationEvent, rhs: SimulationEvent) -> Bool {
        (lhs.time, lhs.sequence) < (rhs.time, rhs.sequence)
    }

    static func == (lhs: SimulationEvent, rhs: SimulationEvent) -> Bool {
        lhs.time == rhs.time && lhs.sequence == rhs.sequence
    }
}

import MeshCore

/// Something due at a virtual time: a datagram arriving, or a node's timer.
///
/// A plain value (no references), so the event heap moves it without reference counting; the
/// datagram itself waits in ``Simulation``'s in-flight table, in slot ``slot``.
struct SimulationEvent: Comparable {
    let time: Timestamp
    /// Tie-breaker: events at the same time run in the order they were scheduled.
    let sequence: UInt64
    /// The node the event is for.
    let node: Int32
    /// The sending node of a datagram; ``timer`` for a timer.
    let source: Int32
    /// The in-flight slot of a datagram.
    let slot: Int32

    /// The ``source`` of a timer event.
    static let timer: Int32 = -1

    static func < (lhs: SimulationEvent, rhs: SimulationEvent) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.sequence < rhs.sequence
    }

    static func == (lhs: SimulationEvent, rhs: SimulationEvent) -> Bool {
        lhs.time == rhs.time && lhs.sequence == rhs.sequence
    }
}

import MeshCore

/// Something due at a virtual time in one shard: a datagram arriving, or a node's timer.
///
/// A plain value (no references), so the event heap moves it without reference counting; the
/// datagram itself waits in the shard's in-flight table, in slot ``slot``.
struct SimulationEvent: Comparable {
    let time: Timestamp
    /// Tie-breaker for events at the same time: who scheduled the event, then in which order
    /// (see ``Shard/nextKey(_:)``), so the order never depends on how nodes are split into shards.
    let key: UInt64
    /// The node the event is for, as an index into its shard.
    let node: Int32
    /// The sending node of a datagram (a global index); ``timer`` for a timer.
    let source: Int32
    /// The in-flight slot of a datagram.
    let slot: Int32

    /// The ``source`` of a timer event.
    static let timer: Int32 = -1

    static func < (lhs: SimulationEvent, rhs: SimulationEvent) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.key < rhs.key
    }

    static func == (lhs: SimulationEvent, rhs: SimulationEvent) -> Bool {
        lhs.time == rhs.time && lhs.key == rhs.key
    }
}

/// A datagram on its way to a node of another shard, handed over between steps.
struct Transit {
    let time: Timestamp
    let key: UInt64
    /// Global index of the receiver.
    let target: Int
    /// Global index of the sender.
    let source: Int
    let bytes: [UInt8]
}

/// A node event, kept until the end of the step so the observer sees events in a fixed order.
struct LoggedEvent {
    let time: Timestamp
    /// Global index of the node.
    let node: Int
    /// Order within the shard's log (a node's events keep their order).
    let sequence: Int
    let event: NodeEvent
}

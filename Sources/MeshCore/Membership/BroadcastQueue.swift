/// Gossip waiting to be sent: each item rides along in outgoing datagrams until it has been
/// transmitted ``limit`` times (which grows with log N), fewest-sent first. A newer item about the
/// same subject replaces the older one.
struct BroadcastQueue {
    /// What a broadcast is about; at most one item per subject is queued.
    enum Subject: Hashable {
        case record(NodeID)
        case verdict(NodeID)
        case revocation(NodeID)
    }

    struct Item {
        let subject: Subject
        let message: Message
        let size: Int
        var transmits: Int
        let serial: UInt64
    }

    private(set) var items: [Item] = []
    private var serial: UInt64 = 0
    /// Most items kept; beyond it the most transmitted are dropped.
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    /// Queues `message` about `subject`, replacing any older item about it.
    mutating func enqueue(_ message: Message, about subject: Subject) {
        items.removeAll { $0.subject == subject }
        serial += 1
        items.append(Item(subject: subject, message: message, size: message.encodedSize, transmits: 0, serial: serial))
        if items.count > capacity {
            items.sort(by: Self.priority)
            items.removeLast(items.count - capacity)
        }
    }

    /// Removes the items about `subject`.
    mutating func cancel(_ subject: Subject) {
        items.removeAll { $0.subject == subject }
    }

    /// Takes items that fit in `budget` bytes (fewest transmits first, then newest), counts a
    /// transmission for each, and drops those that reached `limit`.
    mutating func take(budget: Int, limit: Int) -> [Message] {
        guard !items.isEmpty, budget > 0 else { return [] }
        items.sort(by: Self.priority)
        var remaining = budget
        var taken: [Message] = []
        for index in items.indices where items[index].size <= remaining {
            remaining -= items[index].size
            taken.append(items[index].message)
            items[index].transmits += 1
            if remaining < 16 { break }
        }
        items.removeAll { $0.transmits >= limit }
        return taken
    }

    private static func priority(_ a: Item, _ b: Item) -> Bool {
        a.transmits != b.transmits ? a.transmits < b.transmits : a.serial > b.serial
    }
}

import MeshCore

/// Relay endpoints this node has pointed WireGuard peers at, remembered so a kernel endpoint
/// left on a relay port is never taken for a working direct path. Bounded: the oldest are
/// forgotten first once ``capacity`` is reached (a relay's ports change with every allocation).
package struct RecentRelayEndpoints {
    /// Most endpoints remembered.
    package let capacity: Int
    private var members = Set<SocketEndpoint>()
    private var order: [SocketEndpoint] = []

    package init(capacity: Int = 1024) { self.capacity = max(1, capacity) }

    /// Number remembered.
    package var count: Int { members.count }

    /// Remembers `endpoint` (forgetting the oldest when full).
    package mutating func insert(_ endpoint: SocketEndpoint) {
        guard members.insert(endpoint).inserted else { return }
        order.append(endpoint)
        if order.count > capacity {
            let excess = order.count - capacity
            for old in order.prefix(excess) { members.remove(old) }
            order.removeFirst(excess)
        }
    }

    /// Whether `endpoint` is a relay endpoint used recently.
    package func contains(_ endpoint: SocketEndpoint) -> Bool { members.contains(endpoint) }
}

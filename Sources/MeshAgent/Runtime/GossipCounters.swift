import Synchronization

/// Traffic counters of the gossip socket(s) (atomic: the event loops add as datagrams arrive, the
/// agent adds as it sends, the metrics read).
public final class GossipCounters: Sendable {
    public let receivedDatagrams = Atomic<UInt64>(0)
    public let receivedBytes = Atomic<UInt64>(0)
    public let sentDatagrams = Atomic<UInt64>(0)
    public let sentBytes = Atomic<UInt64>(0)

    public init() {}
}

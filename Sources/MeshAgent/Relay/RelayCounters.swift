import Synchronization

/// Traffic counters of the relay (atomic: the forwarding event loops add, the agent reads).
public final class RelayCounters: Sendable {
    /// Datagrams forwarded.
    public let forwardedPackets = Atomic<UInt64>(0)
    /// Bytes forwarded.
    public let forwardedBytes = Atomic<UInt64>(0)
    /// Datagrams refused (every reason, including those below).
    public let dropped = Atomic<UInt64>(0)
    /// Allocations made (a pair granted ports).
    public let allocations = Atomic<UInt64>(0)
    /// Allocation requests refused (limits, a pair with itself, …).
    public let refusals = Atomic<UInt64>(0)
    /// Of those: datagrams from a source that is not the allocated member (never forwarded).
    public let unauthorized = Atomic<UInt64>(0)
}

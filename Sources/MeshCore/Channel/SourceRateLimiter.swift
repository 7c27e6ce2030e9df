/// Token buckets per source address, for expensive work done before a sender is authenticated
/// (certificate checks in handshakes, join requests). One source cannot use up a shared budget
/// that other newcomers need. The table is capped: when full, idle sources (full buckets) are
/// forgotten, and if none is idle a new source is refused.
public struct SourceRateLimiter: Sendable {
    /// Tokens gained per second by each source.
    public let rate: Double
    /// Most tokens a source can hold (its burst).
    public let burst: Double
    /// Most sources tracked at once.
    public let capacity: Int

    private var buckets: [IPAddress: (tokens: Double, updated: Timestamp)] = [:]

    public init(rate: Double, burst: Double, capacity: Int = 1024) {
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
    }

    /// Number of sources tracked.
    public var trackedSources: Int { buckets.count }

    /// Takes one token for `source` at `now`; false if the source is over its rate (or the table
    /// is full of active sources).
    public mutating func take(from source: IPAddress, now: Timestamp) -> Bool {
        if buckets[source] == nil, buckets.count >= capacity {
            buckets = buckets.filter { tokens(of: $0.value, now: now) < burst }
            guard buckets.count < capacity else { return false }
        }
        let current = buckets[source].map { tokens(of: $0, now: now) } ?? burst
        guard current >= 1 else {
            buckets[source] = (current, now)
            return false
        }
        buckets[source] = (current - 1, now)
        return true
    }

    private func tokens(of bucket: (tokens: Double, updated: Timestamp), now: Timestamp) -> Double {
        min(burst, bucket.tokens + (now - bucket.updated).seconds * rate)
    }
}

/// Token buckets (``TokenBucket``) per key (a source address, a member), for work done on others' behalf: certificate
/// checks in handshakes and join requests before authentication (per source address), replies to
/// members (per member). One party cannot use up what others need. The table is capped: when
/// full, idle keys (full buckets) are forgotten, and if none is idle a new key is refused.
public struct RateLimiter<Key: Hashable & Sendable>: Sendable {
    /// Tokens gained per second by each key.
    public let rate: Double
    /// Most tokens a key can hold (its burst).
    public let burst: Double
    /// Most keys tracked at once.
    public let capacity: Int

    private var buckets: [Key: TokenBucket] = [:]

    public init(rate: Double, burst: Double, capacity: Int = 1024) {
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
    }

    /// Number of keys tracked.
    public var trackedKeys: Int { buckets.count }

    /// Takes `cost` tokens for `key` at `now`; false (taking nothing) if the key has fewer, or
    /// the table is full of active keys.
    public mutating func take(from key: Key, now: Timestamp, cost: Double = 1) -> Bool {
        guard admit(key, now: now) else { return false }
        var bucket = buckets[key] ?? TokenBucket(rate: rate, burst: burst, at: now)
        let taken = bucket.take(cost, at: now)
        buckets[key] = bucket
        return taken
    }

    /// Tokens `key` holds at `now`.
    public func available(to key: Key, now: Timestamp) -> Double {
        buckets[key]?.available(at: now) ?? burst
    }

    private mutating func admit(_ key: Key, now: Timestamp) -> Bool {
        guard buckets[key] == nil, buckets.count >= capacity else { return true }
        buckets = buckets.filter { !$0.value.isFull(at: now.nanoseconds) }
        return buckets.count < capacity
    }
}

/// Per source address (before authentication).
public typealias SourceRateLimiter = RateLimiter<IPAddress>

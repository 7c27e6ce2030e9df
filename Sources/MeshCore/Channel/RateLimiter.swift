/// Token buckets per key (a source address, a member), for work done on others' behalf: certificate
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

    private var buckets: [Key: (tokens: Double, updated: Timestamp)] = [:]

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
        let current = available(to: key, now: now)
        guard current >= cost else {
            buckets[key] = (current, now)
            return false
        }
        buckets[key] = (current - cost, now)
        return true
    }

    /// Tokens `key` holds at `now`.
    public func available(to key: Key, now: Timestamp) -> Double {
        buckets[key].map { tokens(of: $0, now: now) } ?? burst
    }

    private mutating func admit(_ key: Key, now: Timestamp) -> Bool {
        guard buckets[key] == nil, buckets.count >= capacity else { return true }
        buckets = buckets.filter { tokens(of: $0.value, now: now) < burst }
        return buckets.count < capacity
    }

    private func tokens(of bucket: (tokens: Double, updated: Timestamp), now: Timestamp) -> Double {
        min(burst, bucket.tokens + (now - bucket.updated).seconds * rate)
    }
}

/// Per source address (before authentication).
public typealias SourceRateLimiter = RateLimiter<IPAddress>

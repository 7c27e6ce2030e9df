/// The one token bucket of Meshwork: `rate` tokens a second, up to `burst`. Time is nanoseconds of any
/// clock that does not go back (a ``Timestamp``, NIO's uptime); a reading earlier than the last one
/// adds nothing. Used per key by ``RateLimiter`` (work before authentication, replies to members),
/// by the agent's path probes and by the relay's bytes per side.
public struct TokenBucket: Sendable, Equatable {
    /// Tokens gained per second.
    public let rate: Double
    /// Most tokens held.
    public let burst: Double
    private var tokens: Double
    private var updatedAt: UInt64

    /// A bucket holding `tokens` (full when nil) at `nanoseconds`.
    public init(rate: Double, burst: Double, tokens: Double? = nil, at nanoseconds: UInt64) {
        self.rate = rate
        self.burst = burst
        self.tokens = min(burst, tokens ?? burst)
        updatedAt = nanoseconds
    }

    /// Tokens held at `nanoseconds`.
    public func available(at nanoseconds: UInt64) -> Double {
        guard nanoseconds > updatedAt else { return tokens }
        return min(burst, tokens + Double(nanoseconds - updatedAt) / 1e9 * rate)
    }

    /// Whether the bucket is full at `nanoseconds` (an idle key that may be forgotten).
    public func isFull(at nanoseconds: UInt64) -> Bool {
        available(at: nanoseconds) >= burst
    }

    /// Takes `cost` tokens at `nanoseconds`; false, taking nothing, when fewer are held.
    public mutating func take(_ cost: Double, at nanoseconds: UInt64) -> Bool {
        tokens = available(at: nanoseconds)
        updatedAt = max(updatedAt, nanoseconds)
        guard tokens >= cost else { return false }
        tokens -= cost
        return true
    }
}

extension TokenBucket {
    /// A bucket holding `tokens` (full when nil) at `now`.
    public init(rate: Double, burst: Double, tokens: Double? = nil, at now: Timestamp) {
        self.init(rate: rate, burst: burst, tokens: tokens, at: now.nanoseconds)
    }

    /// Tokens held at `now`.
    public func available(at now: Timestamp) -> Double { available(at: now.nanoseconds) }

    /// Takes `cost` tokens at `now`; false, taking nothing, when fewer are held.
    public mutating func take(_ cost: Double, at now: Timestamp) -> Bool { take(cost, at: now.nanoseconds) }
}

import MeshCore

/// The virtual network: one-way latency with jitter, random loss, and partitions.
public struct NetworkModel: Sendable {
    /// Smallest one-way delay.
    public var latency: Interval
    /// Extra delay, uniform in `0...jitter`.
    public var jitter: Interval
    /// Probability that a datagram is lost.
    public var loss: Double

    public init(latency: Interval = .milliseconds(10), jitter: Interval = .milliseconds(30), loss: Double = 0) {
        self.latency = latency
        self.jitter = jitter
        self.loss = loss
    }

    /// The delay of one datagram, or nil if it is lost.
    func delay(using random: inout SeededRandomNumberGenerator) -> Interval? {
        if loss > 0, Double.random(in: 0..<1, using: &random) < loss { return nil }
        let extra = jitter.nanoseconds == 0 ? 0 : UInt64.random(in: 0...jitter.nanoseconds, using: &random)
        return Interval(nanoseconds: latency.nanoseconds + extra)
    }
}

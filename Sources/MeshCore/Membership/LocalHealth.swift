/// Lifeguard's local health multiplier: a score from 0 to `maximum` that rises when this node
/// misses acks or must refute suspicions (signs that *it* is slow or its network is bad) and falls
/// with each successful probe. Probe intervals and timeouts are scaled by `score + 1`, so an
/// unhealthy node slows down instead of accusing healthy peers.
struct LocalHealth {
    let maximum: Int
    private(set) var score = 0

    init(maximum: Int) { self.maximum = maximum }

    mutating func worsen() { score = min(maximum, score + 1) }
    mutating func improve() { score = max(0, score - 1) }

    /// Multiplier for intervals and timeouts.
    var multiplier: Double { Double(score + 1) }
}

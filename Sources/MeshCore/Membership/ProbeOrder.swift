/// A random order over `0..<n` without storing it: position k maps to `(start + k * stride) mod n`
/// with `stride` coprime to n. Each pass probes every member once (SWIM's round-robin bound on
/// detection time) and a new pass starts with a new random start and stride.
struct ProbeOrder {
    private var size = 0
    private var start = 0
    private var stride = 1
    private var position = 0

    /// The next index in `0..<n`, starting a new pass when the size changed or a pass ended.
    mutating func next(count n: Int, random: inout RandomSource) -> Int? {
        guard n > 0 else { return nil }
        if n != size || position >= n {
            size = n
            position = 0
            start = Int.random(in: 0..<n, using: &random)
            stride = Self.coprimeStride(for: n, random: &random)
        }
        defer { position += 1 }
        return (start + position * stride) % n
    }

    private static func coprimeStride(for n: Int, random: inout RandomSource) -> Int {
        guard n > 2 else { return 1 }
        for _ in 0..<32 {
            let candidate = Int.random(in: 1..<n, using: &random)
            if gcd(candidate, n) == 1 { return candidate }
        }
        return 1
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}

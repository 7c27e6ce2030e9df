import MeshCore
import Testing

@Suite("One token bucket")
struct TokenBucketTests {
    private let second: UInt64 = 1_000_000_000

    @Test("starts full, refills at its rate up to its burst, and refuses what it does not hold")
    func refillAndRefuse() {
        var bucket = TokenBucket(rate: 10, burst: 5, at: 0)
        var taken: [Bool] = []
        #expect(bucket.available(at: 0) == 5)
        for _ in 0..<6 { taken.append(bucket.take(1, at: 0)) }
        #expect(taken == [true, true, true, true, true, false])
        #expect(bucket.available(at: second / 10) == 1)
        taken = [bucket.take(2, at: second / 10), bucket.take(1, at: second / 10)]
        #expect(taken == [false, true], "a refusal takes nothing")
        #expect(bucket.available(at: 100 * second) == 5, "never above the burst")
        #expect(bucket.isFull(at: 100 * second))
    }

    @Test("a clock reading earlier than the last one adds nothing and never traps")
    func clockGoingBack() {
        var bucket = TokenBucket(rate: 1, burst: 2, tokens: 0, at: 10 * second)
        #expect(bucket.available(at: 0) == 0)
        let taken = [bucket.take(1, at: 5 * second), bucket.take(1, at: 11 * second)]
        #expect(taken == [false, true])
        #expect(bucket.available(at: .max) == 2)
    }

    @Test("RateLimiter keeps one bucket per key and forgets only idle ones when full")
    func perKeyBuckets() {
        var limiter = RateLimiter<Int>(rate: 1, burst: 1, capacity: 2)
        let now = Timestamp(seconds: 100)
        let taken = [
            limiter.take(from: 1, now: now), limiter.take(from: 1, now: now), limiter.take(from: 2, now: now),
            limiter.take(from: 3, now: now),  // the table is full of active keys
            limiter.take(from: 3, now: Timestamp(seconds: 102)),  // idle keys were forgotten
        ]
        #expect(taken == [true, false, true, false, true])
        #expect(limiter.trackedKeys == 1)
    }
}

import BazaarCore
import Synchronization
import Testing

/// The per-key bucket table behind `AddressRateLimit` and `FailedAuthThrottle`, on a clock the test moves by hand
/// (no sleeps, no timed assertions): its bound, what its eviction forgets and what it never gives away, and
/// concurrent takes.
@Suite("Token bucket table: per-key buckets in a bounded LRU") struct TokenBucketTableTests {
    /// Seconds the test sets: nothing refills unless the test says time has passed.
    final class Seconds: Sendable {
        private let value = Mutex(0.0)
        func advance(by seconds: Double) { value.withLock { $0 += seconds } }
        var clock: @Sendable () -> Double { { self.value.withLock { $0 } } }
    }

    @Test func aNewKeyStartsFullAndAPeekSpendsNothing() {
        let seconds = Seconds()
        let table = TokenBucketTable<String>(ratePerSecond: 1, burst: 3, capacity: 10, now: seconds.clock)
        #expect(table.peek("a") == nil, "a key the table does not hold has a full bucket")
        #expect(table.count == 0, "and a peek does not add it")
        for _ in 0..<3 { #expect(table.take("a").allowed) }
        let refused = table.take("a")
        #expect(!refused.allowed && refused.retryAfterSeconds == 1 && refused.remaining == 0)
        for _ in 0..<10 { #expect(table.peek("a")?.allowed == false, "peeking an empty bucket never fills it") }
        seconds.advance(by: 1)
        #expect(table.peek("a")?.allowed == true)
        #expect(table.peek("a")?.allowed == true, "the peek before took nothing")
        #expect(table.take("a").allowed)
        #expect(!table.take("a").allowed, "one second gave one token")
    }

    @Test func theTableNeverHoldsMoreThanItsCapacity() {
        let table = TokenBucketTable<Int>(ratePerSecond: 1, burst: 2, capacity: 16, now: Seconds().clock)
        for key in 0..<10_000 {
            _ = table.take(key)
            #expect(table.count == min(key + 1, 16))
        }
        #expect(table.capacity == 16)
    }

    /// The adversary: one key drains its bucket and keeps spending while, between any two of its takes, as many
    /// fresh keys as the table can hold beside it arrive (capacity - 1, tens of thousands in all). LRU eviction
    /// always forgets one of those, never the key in use, so over 20 s the flooding key gets no more than the rule
    /// gives it: `burst` + `rate` x elapsed. A table that evicted in arrival order, or restarted an evicted key at a
    /// full bucket after each round, would hand it a fresh burst every round.
    @Test func aKeyThatKeepsSpendingIsNeverEvictedSoItGetsNoMoreThanTheRule() {
        let seconds = Seconds()
        let capacity = 64, burst = 5.0, rate = 1.0
        let table = TokenBucketTable<String>(ratePerSecond: rate, burst: burst, capacity: capacity, now: seconds.clock)
        var allowed = 0, fresh = 0
        let steps = 200, step = 0.1
        for _ in 0..<steps {
            if table.take("hostile").allowed { allowed += 1 }
            for _ in 0..<(capacity - 1) {
                fresh += 1
                _ = table.take("fresh-\(fresh)")
            }
            #expect(table.count == capacity)
            seconds.advance(by: step)
        }
        let rule = Int(burst + rate * Double(steps - 1) * step)
        #expect(allowed <= rule, "\(allowed) takes allowed; the rule allows \(rule)")
        #expect(allowed >= rule - 1, "and the key was limited, not refused outright: \(allowed)")
    }

    /// What eviction forgets (unchanged from the two tables this one replaced): the key taken least recently, once
    /// `capacity` other keys have taken since. A peek is not a use, so an address that is only asked about (a
    /// throttled one, whose guesses are refused before they are counted) ages like an idle one. Forgotten, it has
    /// a full bucket: harmless once it has refilled; before that, an early burst that cost the attacker `capacity`
    /// fresh keys of full buckets each.
    @Test func evictionForgetsOnlyTheKeyTakenLeastRecently() {
        let seconds = Seconds()
        let table = TokenBucketTable<String>(ratePerSecond: 0.5, burst: 2, capacity: 4, now: seconds.clock)
        for _ in 0..<3 { _ = table.take("drained") }
        for other in ["b", "c", "d"] { _ = table.take(other) }
        #expect(table.peek("drained")?.allowed == false, "held beside capacity - 1 others")
        _ = table.take("e")
        #expect(table.peek("drained") == nil, "the fourth other key evicts it, peeks or not")
        #expect(table.peek("b")?.allowed == true && table.count == 4)
        // A key taken again moves to the front: the next arrival evicts the next least recent instead.
        _ = table.take("b")
        _ = table.take("f")
        #expect(table.peek("b") != nil && table.peek("c") == nil)
    }

    /// Many tasks take from one bucket at once: exactly `burst` of the takes are allowed (the clock does not move),
    /// never one more; keys taken concurrently do not share or lose tokens.
    @Test func concurrentTakesNeverExceedTheBucket() async {
        let table = TokenBucketTable<Int>(ratePerSecond: 1, burst: 100, capacity: 1_000, now: Seconds().clock)
        let keys = 8, tasksPerKey = 16, takesPerTask = 25  // 400 takes a key against 100 tokens
        let allowed = await withTaskGroup(of: (Int, Int).self) { group in
            for task in 0..<(keys * tasksPerKey) {
                group.addTask {
                    let key = task % keys
                    var allowed = 0
                    for _ in 0..<takesPerTask where table.take(key).allowed { allowed += 1 }
                    return (key, allowed)
                }
            }
            var byKey = [Int: Int]()
            for await (key, count) in group { byKey[key, default: 0] += count }
            return byKey
        }
        #expect(allowed.count == keys && allowed.values.allSatisfy { $0 == 100 }, "\(allowed)")
        #expect(table.count == keys)
    }
}

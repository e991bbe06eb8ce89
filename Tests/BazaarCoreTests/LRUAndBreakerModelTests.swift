import BazaarCore
import Synchronization
import Testing

/// The LRU against a model that is obviously right (an array in recency order), over long random runs of every
/// operation: any slip in the index-threaded list (a stale link, a slot reused twice) shows as a difference.
@Suite("LRU cache against a model") struct LRUModelTests {
    struct Model {
        let capacity: Int
        var entries: [(key: Int, value: Int)] = []  // most recent first

        mutating func get(_ key: Int) -> Int? {
            guard let index = entries.firstIndex(where: { $0.key == key }) else { return nil }
            let entry = entries.remove(at: index)
            entries.insert(entry, at: 0)
            return entry.value
        }

        mutating func set(_ key: Int, _ value: Int) {
            if let index = entries.firstIndex(where: { $0.key == key }) { entries.remove(at: index) }
            else if entries.count == capacity { entries.removeLast() }
            entries.insert((key, value), at: 0)
        }

        mutating func remove(_ key: Int) { entries.removeAll { $0.key == key } }
        mutating func removeAll(where predicate: (Int) -> Bool) { entries.removeAll { predicate($0.value) } }
    }

    @Test(arguments: [1, 2, 7, 64])
    func agreesWithTheModelOverRandomOperations(_ capacity: Int) {
        var generator = SystemRandomNumberGenerator()
        var cache = LRUCache<Int, Int>(capacity: capacity)
        var model = Model(capacity: capacity)
        for step in 0..<20_000 {
            let key = Int.random(in: 0..<(capacity * 3), using: &generator)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<45:
                #expect(cache.get(key) == model.get(key), "get \(key) at step \(step)")
            case 45..<90:
                cache.set(key, step)
                model.set(key, step)
            case 90..<97:
                cache.remove(key)
                model.remove(key)
            default:
                let modulus = Int.random(in: 2...5, using: &generator)
                cache.removeAll { $0 % modulus == 0 }
                model.removeAll { $0 % modulus == 0 }
            }
            #expect(cache.count == model.entries.count, "count at step \(step)")
            if cache.count != model.entries.count { return }
        }
        // The same entries, and a peek changes no recency.
        for entry in model.entries { #expect(cache.peek(entry.key) == entry.value) }
    }
}

@Suite("Circuit breaker under concurrency") struct CircuitBreakerConcurrencyTests {
    /// However many callers ask at once once the open period is over, exactly one of them probes.
    @Test func exactlyOneConcurrentCallerProbes() async {
        let clock = ManualClock()
        let breaker = CircuitBreaker(failureThreshold: 1, openMillis: 10, clock: clock.wallClock)
        for round in 0..<50 {
            breaker.recordFailure()
            clock.advance(10)
            let allowed = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<64 { group.addTask { breaker.allow() } }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 1, "round \(round): \(allowed) probes")
        }
    }
}
